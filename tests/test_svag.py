"""SVAG (Li, Malladi & Arora 2021): its coefficients, its gradient's law (mean ∇L, covariance
ℓ·Σ_B) by exact enumeration and by Monte Carlo of the wrapper on real minibatches, its two
carried samplers, its discrete stationary covariance on a quadratic, the validity study and
bad input."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import assert_within_stderr, upper_triangle

import sgdsde
from sgdsde import theory
from sgdsde.brownian import Stream, path_keys
from sgdsde.compare import covariance_estimate, mean_estimate
from sgdsde.errors import ParameterRangeError
from sgdsde.studies import svag_study
from sgdsde.surfaces import SVAG, svag_coefficients


@pytest.fixture(scope="module")
def tiny():
    """Binary logistic regression on 6 breast-cancer examples (30 features): d = 31."""
    data = sgdsde.load_dataset("breast_cancer", n_train=6, n_test=20, seed=3)
    return sgdsde.learned_surface(data, "logistic", dtype=jnp.float64, seed=1)


@pytest.mark.parametrize("ell", [1.0, 2.0, 4.5, 16.0])
def test_coefficients_sum_to_one_and_their_squares_to_ell(ell):
    first, second = svag_coefficients(ell)
    assert first + second == pytest.approx(1.0)
    assert first**2 + second**2 == pytest.approx(ell)


def test_exact_enumeration_of_the_svag_law(tiny):
    """With replacement and B = 1 the two minibatches are independent uniform examples: over all
    N² pairs, a₁∇ℓ_i + a₂∇ℓ_j has mean ∇L and covariance exactly ℓ·C (C from the per-example
    gradients, population 1/N)."""
    ell = 3.0
    a1, a2 = svag_coefficients(ell)
    theta = tiny.initial_point() + 0.2
    grads = np.asarray(tiny.per_example_gradients(theta))
    law = np.array([a1 * grads[i] + a2 * grads[j]
                    for i, j in itertools.product(range(len(grads)), repeat=2)])
    np.testing.assert_allclose(law.mean(0), np.asarray(tiny.gradient(theta)), atol=1e-12)
    np.testing.assert_allclose(np.cov(law.T, bias=True), ell * np.cov(grads.T, bias=True),
                               atol=1e-12)


@pytest.mark.parametrize(("batch_size", "replacement"), [(1, True), (2, False)])
def test_wrapper_draws_have_mean_grad_l_and_covariance_ell_sigma_b(tiny, batch_size,
                                                                   replacement):
    """20,000 draws of SVAG(ℓ = 4).minibatch_gradient on real minibatches: the sample mean is
    within Bonferroni z·se of ∇L (d entries) and the sample covariance within z·se of
    ℓ·Σ_B = ℓ·f·C entrywise (d(d+1)/2 entries), f of the sampling scheme (seeded)."""
    ell, draws = 4.0, 20_000
    theta = tiny.initial_point() + 0.2
    svag = SVAG(tiny, ell)
    state = svag.sampler_state()

    def one(key):
        return svag.flatten(svag.minibatch_gradient(
            svag.parameters(theta), key, jnp.zeros((), jnp.int32), state,
            batch_size=batch_size, n_train=6, replacement=replacement)[0])

    samples = jax.jit(jax.vmap(one))(path_keys(7, draws, Stream.MINIBATCH))
    mean = mean_estimate(samples)
    assert_within_stderr(mean.value, mean.stderr, tiny.gradient(theta))
    cov = covariance_estimate(samples)
    factor = theory.minibatch_noise_factor(batch_size, 6, replacement)
    per_example = np.cov(np.asarray(tiny.per_example_gradients(theta)).T, bias=True)
    active = upper_triangle(np.asarray(cov.stderr)) > 0
    assert_within_stderr(upper_triangle(np.asarray(cov.value))[active],
                         upper_triangle(np.asarray(cov.stderr))[active],
                         upper_triangle(ell * factor * per_example)[active])


def test_two_samplers_keep_their_own_shuffled_epochs(tiny):
    """Over two epochs of shuffled batches SVAG's gradient is a₁ĝ₁ + a₂ĝ₂ with ĝ₁, ĝ₂ the wrapped
    sampler's on the streams fold_in(key, 1) and fold_in(key, 2), each with its own carried
    permutation (to round-off)."""
    svag = SVAG(tiny, 5.0)
    a1, a2 = svag_coefficients(5.0)
    key = jax.random.key(4)
    theta = tiny.initial_point()
    options = dict(batch_size=2, n_train=6, replacement=False)
    params = svag.parameters(theta)

    def svag_gradient(k, s):
        gradient, s = svag.minibatch_gradient(params, key, k, s, **options)
        return svag.flatten(gradient), s

    def wrapped_gradient(stream, k, s):
        gradient, s = tiny.minibatch_gradient(params, jax.random.fold_in(key, stream), k, s,
                                              **options)
        return tiny.flatten(gradient), s

    ours_step, wrapped_step = jax.jit(svag_gradient), jax.jit(wrapped_gradient)
    state = svag.sampler_state()
    first, second = tiny.sampler_state(), tiny.sampler_state()
    for step in range(6):
        k = jnp.asarray(step, jnp.int32)
        ours, state = ours_step(k, state)
        g1, first = wrapped_step(1, k, first)
        g2, second = wrapped_step(2, k, second)
        np.testing.assert_allclose(ours, a1 * g1 + a2 * g2, rtol=1e-12, atol=1e-14)
    assert not np.array_equal(first, second)


def test_svag_on_a_quadratic_reaches_its_discrete_stationary_covariance():
    """SVAG(ℓ = 4) at ε/ℓ on a quadratic with non-aligned noise is SGD with step ε/ℓ and
    covariance ℓS: its ensemble reaches the discrete Lyapunov solution of (ε/ℓ, ℓS) within
    Bonferroni z·se, and that solution lies between SGD's and the SME's (the 1/ℓ approach
    to the SDE)."""
    quadratic = sgdsde.Quadratic.from_spectra([1.0, 0.4, 2.5], [1.0, 0.5, 2.0],
                                              rotate_noise=True, dtype=jnp.float64)
    ell, lr = 4, 0.4
    run = sgdsde.RunConfig(lr=lr / ell, steps=ell * 150, paths=4000, seed=2)
    final = sgdsde.simulate_sgd(SVAG(quadratic, ell), run, save_steps=(run.steps,)).final
    cov = covariance_estimate(final)
    H, S = quadratic.hessian, quadratic.noise_cov
    predicted = theory.sgd_stationary_cov(H, ell * S, lr / ell)
    assert_within_stderr(upper_triangle(cov.value), upper_triangle(cov.stderr),
                         upper_triangle(predicted))
    gaps = [np.linalg.norm(theory.sgd_stationary_cov(H, k * S, lr / k)
                           - theory.sme_stationary_cov(H, S, lr)) for k in (1, 4, 16)]
    assert gaps[0] > 3 * gaps[1] > 9 * gaps[2]
    z = jnp.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(SVAG(quadratic, ell).noise_apply(z, z),
                               2.0 * quadratic.noise_apply(z, z))


def test_validity_study_record(tiny):
    """A small run of the study: every ℓ and the SME at each ε, SDE time shared, gaps with
    standard errors."""
    data = sgdsde.load_dataset("mnist1d", n_train=60, n_test=30, seed=0)
    surface = sgdsde.learned_surface(data, "mlp", width=4, seed=0)
    record = svag_study(surface, [0.5], [1, 2], batch_size=10, sde_time=1.0, paths=3,
                        checkpoints=2, sde_dt=0.1)
    row = record["rows"][0]
    assert row["updates"] == 2 and row["steps"] == [0, 2]
    assert set(row["svag"]) == {"1", "2"} and row["sde"] is not None
    gap = row["final_gaps"]["test_accuracy"]["svag"]
    assert np.isfinite(gap["mean"]) and gap["stderr"] >= 0


@pytest.mark.parametrize(("call", "name"), [
    (lambda s: SVAG(s, 0.5), "ell"),
    (lambda s: svag_study(s, [0.1], [1, 2.5], batch_size=2, sde_time=1.0), "ells"),
    (lambda s: svag_study(s, [0.1], [0, 2], batch_size=2, sde_time=1.0), "ells"),
    (lambda s: svag_study(s, [-0.1], [1, 2], batch_size=2, sde_time=1.0), "lrs"),
    (lambda s: svag_study(s, [0.1], [1, 2], batch_size=7, sde_time=1.0), "batch_size"),
])
def test_bad_input_is_refused_before_compilation(tiny, no_compilation, call, name):
    with pytest.raises(ParameterRangeError, match=name):
        call(tiny)
