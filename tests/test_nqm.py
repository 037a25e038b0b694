"""The noisy quadratic model: its surface, the exact expected-loss recursion (against independent
computations: the phase-space Lyapunov iteration of docs/theory.md §3, the closed-form means
and stationary covariances, Monte Carlo ensembles of both engines), steps to target and the
critical batch size with and without momentum (Zhang et al. 2019)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import z_bound

import sgdsde
from sgdsde import theory
from sgdsde.errors import MatrixError, ParameterRangeError, UnknownNameError
from sgdsde.scaling import nqm_critical_batch
from sgdsde.studies import nqm_ensemble_check
from sgdsde.surfaces import NoisyQuadratic

H = np.array([1.0, 0.35, 0.05])
C = np.array([0.8, 0.3, 0.1])
THETA0 = np.array([0.5, -2.0, 4.0])
TRANSITIONS = {"sgd": theory.nqm_sgd_transition, "sme1": theory.nqm_sme_transition,
               "underdamped": theory.nqm_underdamped_transition}


def phase_space_losses(lr, momentum, noise_factor, steps):
    """E L_k from the dense phase-space iteration M' = T M Tᵀ + b S bᵀ of docs/theory.md §3
    (velocity u = −εv, block matrices, no per-coordinate algebra)."""
    T, b = theory.heavy_ball_transition(jnp.diag(H), lr, momentum)
    T, b = np.asarray(T), np.asarray(b)
    source = b @ np.diag(noise_factor * C) @ b.T
    z0 = np.concatenate([THETA0, np.zeros(3)])
    moments = np.outer(z0, z0)
    losses = []
    for _ in range(steps + 1):
        losses.append(0.5 * np.sum(H * np.diag(moments)[:3]))
        moments = T @ moments @ T.T + source
    return np.array(losses)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_recursion_equals_the_phase_space_lyapunov_iteration(momentum):
    """The optax-form per-coordinate recursion of THEORY §8 against the u-form block iteration
    of §3: the same second moments, so the derivation A = [[1 − εh, −εm], [h, m]],
    b = (−ε, 1) holds."""
    A, Q = theory.nqm_sgd_transition(H, 0.7, momentum)
    ours = theory.nqm_expected_loss(A, Q, H, C, THETA0, 0.25, 60)
    np.testing.assert_allclose(ours, phase_space_losses(0.7, momentum, 0.25, 60), rtol=1e-10)


@pytest.mark.parametrize(("model", "mean"), [
    ("sgd", theory.sgd_mean), ("sme1", theory.sme_mean), ("underdamped", theory.underdamped_mean)])
def test_without_noise_the_second_moment_is_the_squared_closed_form_mean(model, mean):
    A, Q = TRANSITIONS[model](H, 0.4, 0.6)
    losses = theory.nqm_expected_loss(A, Q, H, 0.0 * C, THETA0, 1.0, 30)
    means = mean(jnp.diag(H), jnp.zeros(3), jnp.asarray(THETA0), 0.4, 0.6, jnp.arange(31))
    np.testing.assert_allclose(losses, 0.5 * np.sum(H * np.asarray(means) ** 2, axis=1),
                               rtol=1e-9)


@pytest.mark.parametrize(("model", "stationary"), [
    ("sgd", theory.sgd_stationary_cov), ("sme1", theory.sme_stationary_cov),
    ("underdamped", theory.underdamped_stationary_cov)])
def test_the_recursion_settles_at_the_closed_form_stationary_covariance(model, stationary):
    """From θ₀ = 0 the expected loss tends to ½ tr(H P) with P the model's Lyapunov solution
    for S = f·diag(c)."""
    A, Q = TRANSITIONS[model](H, 0.3, 0.7)
    losses = theory.nqm_expected_loss(A, Q, H, C, 0.0 * THETA0, 0.5, 4000)
    P = stationary(jnp.diag(H), jnp.diag(0.5 * C), 0.3, 0.7)
    np.testing.assert_allclose(losses[-1], 0.5 * np.sum(H * np.diag(P)), rtol=1e-8)


def test_steps_to_target_is_the_first_crossing_and_never_extrapolated():
    A, Q = theory.nqm_sgd_transition(H, jnp.array([0.002, 0.3, 1.0]), 0.5)
    curves = np.asarray(theory.nqm_expected_loss(A, Q, H, C, THETA0, 0.1, 400))
    target = 0.3
    first = [int(np.flatnonzero(row <= target)[0]) if np.any(row <= target) else -1
             for row in curves]
    arrived = np.asarray(theory.nqm_steps_to_target(A, Q, H, C, THETA0, 0.1, target, 400))
    np.testing.assert_array_equal(arrived, first)
    assert -1 in first  # the slowest ε does not arrive within 400 steps: −1, not a guess
    fastest = np.asarray(theory.nqm_steps_to_target(A, Q, H, C, THETA0, 0.1, target, 400,
                                                    first_only=True))
    winner = int(np.argmin(np.where(arrived >= 0, arrived, 10**9)))
    assert fastest[winner] == arrived[winner] and np.sum(fastest >= 0) == 1
    below_floor = theory.nqm_steps_to_target(A, Q, H, C, THETA0, 100.0, 1e-4, 300)
    assert np.all(np.asarray(below_floor) == -1)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_ensemble_matches_the_recursion_at_every_checkpoint(momentum):
    """2,000 heavy-ball paths on a 10-D NQM: the mean loss is within Bonferroni z·se of the
    exact expectation at all ten checkpoints after the start (seeded)."""
    surface = NoisyQuadratic.power_law(10, noise=4.0, dtype=jnp.float64)
    run = sgdsde.RunConfig(lr=0.3, momentum=momentum, batch_size=2, steps=100, paths=2000,
                           seed=3)
    record = nqm_ensemble_check(surface, run, save_steps=list(range(0, 101, 10)))
    z = np.asarray(record["z"], float)
    assert np.isnan(z[0]) and record["diverged"] == 0  # step 0: every path at θ₀
    assert np.all(np.abs(z[1:]) <= z_bound(10)), z


@pytest.mark.parametrize("model", ["sme1", "underdamped"])
def test_sde_ensemble_on_the_nqm_matches_the_exact_sde_recursion(model):
    """The NQM feeds the SDE engine unchanged: simulate_sde's mean loss (ShARK, 4 substeps per
    update; the Gaussian linear SDE is solved to its weak order) is within Bonferroni z·se of
    the exact SDE expectation."""
    surface = NoisyQuadratic.power_law(6, noise=2.0, dtype=jnp.float64)
    run = sgdsde.RunConfig(lr=0.4, momentum=0.5, batch_size=1, steps=40, paths=2000, seed=5)
    saves = list(range(0, 41, 8))
    sde = sgdsde.simulate_sde(surface, run, sgdsde.SDEConfig(model, substeps=4),
                              save_steps=saves)
    losses = np.asarray(jax.vmap(jax.vmap(surface.loss))(sde.theta))
    A, Q = TRANSITIONS[model](surface.curvatures, 0.4, 0.5)
    exact = np.asarray(theory.nqm_expected_loss(A, Q, surface.curvatures,
                                                surface.noise_variances, surface.start, 1.0,
                                                40))[saves]
    se = losses.std(0, ddof=1) / np.sqrt(losses.shape[0])
    assert np.all(np.abs(losses.mean(0) - exact)[1:] <= z_bound(5) * se[1:])


def test_momentum_raises_the_critical_batch_size_and_helps_only_at_large_b():
    """Zhang et al. (2019) on the NQM (d = 1000, h_i = 1/i, c_i = 100 h_i, target a tenth of
    the initial loss), exact recursion with ε tuned per B: B_crit grows several-fold with
    m = 0.9, the steps at B = 1 are the same within 5 %, and at large B momentum needs far
    fewer steps; the SME, blind to the curvature limit on ε, predicts far fewer steps than
    heavy ball at large B with momentum and agrees at small B."""
    surface = NoisyQuadratic.power_law(1000, noise=100.0)
    target = 0.1 * float(surface.loss(surface.initial_point()))
    sizes = [1, 4, 16, 64, 256, 1024, 4096]
    plain = nqm_critical_batch(surface, sizes, target=target, momentum=0.0)
    heavy = nqm_critical_batch(surface, sizes, target=target, momentum=0.9)
    sme = nqm_critical_batch(surface, sizes, target=target, momentum=0.9, model="sme1")
    assert heavy.fit.b_crit > 5 * plain.fit.b_crit
    assert abs(heavy.best_steps[0] / plain.best_steps[0] - 1) < 0.05
    assert heavy.best_steps[-1] < 0.2 * plain.best_steps[-1]
    assert abs(sme.best_steps[0] / heavy.best_steps[0] - 1) < 0.05
    assert sme.best_steps[-1] < 0.8 * heavy.best_steps[-1]
    assert np.all(np.isfinite(plain.best_steps)) and not np.any(plain.lr_at_edge[:3])


def test_power_law_surface_is_the_paper_setting():
    surface = NoisyQuadratic.power_law(5, power=1.0, noise=3.0, dtype=jnp.float64)
    np.testing.assert_allclose(surface.curvatures, 1.0 / np.arange(1, 6))
    np.testing.assert_allclose(surface.noise_variances, 3.0 / np.arange(1, 6))
    assert float(surface.loss(surface.initial_point())) == pytest.approx(2.5)
    z = jnp.arange(5.0)
    np.testing.assert_allclose(surface.noise_apply(surface.start, z),
                               np.sqrt(3.0 / np.arange(1, 6)) * np.arange(5.0))


@pytest.mark.parametrize(("call", "error", "name"), [
    (lambda: NoisyQuadratic([1.0, -1.0], [1.0, 1.0]), ParameterRangeError, "curvatures"),
    (lambda: NoisyQuadratic([1.0, 1.0], [1.0, -1.0]), ParameterRangeError, "noise_variances"),
    (lambda: NoisyQuadratic([1.0, 1.0], [1.0]), MatrixError, "noise_variances"),
    (lambda: NoisyQuadratic([1.0], [1.0], theta0=[1.0, 2.0]), MatrixError, "theta0"),
    (lambda: NoisyQuadratic.power_law(0), ParameterRangeError, "dim"),
    (lambda: NoisyQuadratic.power_law(5, noise=0.0), ParameterRangeError, "noise"),
    (lambda: nqm_critical_batch(NoisyQuadratic.power_law(5), [1, 2], target=10.0),
     ParameterRangeError, "target"),
    (lambda: nqm_critical_batch(NoisyQuadratic.power_law(5), [1, 2], target=0.1, model="x"),
     UnknownNameError, "model"),
    (lambda: nqm_critical_batch(NoisyQuadratic.power_law(5), [0, 2], target=0.1),
     ParameterRangeError, "batch_sizes"),
    (lambda: nqm_critical_batch(NoisyQuadratic.power_law(5), [1, 2], target=0.1,
                                momentum=1.0), ParameterRangeError, "momentum"),
])
def test_bad_input_is_refused_with_the_parameter_named(call, error, name):
    with pytest.raises(error, match=name):
        call()
