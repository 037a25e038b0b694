"""Learned surfaces: per-example gradients, the exact noise sampler and real minibatches are
checked against independent computations; SGD and its SDE are compared on real data."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from tolerances import assert_within_stderr, z_bound

from sgdsde import RunConfig, SDEConfig, simulate_sde, simulate_sgd, theory
from sgdsde.compare import covariance_estimate
from sgdsde.config import budget_steps
from sgdsde.errors import IncompatibleChoiceError
from sgdsde.learning import load_dataset, per_example_loss
from sgdsde.studies import compare_on_learned, dt_convergence
from sgdsde.surfaces import learned_surface


@pytest.fixture(scope="module")
def small_surface():
    """Binary logistic regression on 24 digits (0 vs 1): d = 65, N = 24, all in float64."""
    dataset = load_dataset("digits", n_train=24, n_test=24, classes=(0, 1), seed=0)
    surface = learned_surface(dataset, "logistic", dtype=jnp.float64)
    return surface, surface.initial_point() + 0.05


def test_per_example_gradients_match_autodiff_of_single_examples(small_surface):
    """Row i of G equals the gradient of example i's loss taken on the Equinox model itself."""
    surface, theta = small_surface
    model = surface.unflatten(theta)
    for i in (0, 7, 23):
        x, y = surface.x_train[i : i + 1], surface.y_train[i : i + 1]
        grads = eqx.filter_grad(lambda m, x=x, y=y: per_example_loss(m, x, y)[0])(model)
        expected, _ = ravel_pytree(eqx.filter(grads, eqx.is_inexact_array))
        np.testing.assert_allclose(surface.per_example_gradients(theta)[i], expected, rtol=1e-12)
    np.testing.assert_allclose(
        surface.per_example_gradients(theta).mean(0), surface.gradient(theta), rtol=1e-12
    )


def _explicit_covariance(surface, theta):
    gradients = np.asarray(surface.per_example_gradients(theta))
    centred = gradients - gradients.mean(0)
    return centred.T @ centred / gradients.shape[0]


def _projections(dim: int, count: int = 6) -> np.ndarray:
    """A few fixed random unit directions: the test compares uᵀĈv on them (Bonferroni over
    the count² pairs), which covers the whole matrix without 2,000 separate entries."""
    directions = np.random.default_rng(1).standard_normal((count, dim))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def test_noise_sampler_has_the_per_example_covariance(small_surface):
    """D(θ)z (one VJP, z ~ N(0, I_N)) has covariance C(θ) = (1/N)Σ(∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ."""
    surface, theta = small_surface
    z = jax.random.normal(jax.random.key(3), (20_000, surface.noise_dim), jnp.float64)
    draws = jax.vmap(lambda zz: surface.noise_apply(theta, zz))(z)
    u = _projections(surface.dim)
    estimate = covariance_estimate(draws @ u.T)
    truth = u @ _explicit_covariance(surface, theta) @ u.T
    assert_within_stderr(estimate.value, estimate.stderr, truth)


@pytest.mark.parametrize("replacement", [False, True], ids=["without", "with"])
def test_minibatch_gradient_covariance_is_sigma_b(small_surface, replacement):
    """Minibatch gradients at a fixed θ (independent draws: one batch per epoch without
    replacement) have covariance Σ_B = f·C with f = (1/B)(N−B)/(N−1) or 1/B. Projected on a
    few directions, each entry is within its z-bound; the total variance also rejects the
    other scheme's factor."""
    surface, theta = small_surface
    batch, n, draws = 8, surface.n_train, 20_000
    per_epoch = n // batch
    key = jax.random.key(5)
    steps = jnp.arange(draws) * (per_epoch if not replacement else 1)
    gradients = jax.vmap(
        lambda s: surface.flatten(surface.minibatch_gradient(
            surface.parameters(theta), key, s, surface.sampler_state(), batch_size=batch,
            n_train=n, replacement=replacement,
        )[0])
    )(steps)
    u = _projections(surface.dim)
    estimate = covariance_estimate(gradients @ u.T)
    factor = float(theory.minibatch_noise_factor(batch, n, replacement))
    other = float(theory.minibatch_noise_factor(batch, n, not replacement))
    covariance = _explicit_covariance(surface, theta)
    assert_within_stderr(estimate.value, estimate.stderr, factor * u @ covariance @ u.T)
    trace = covariance_estimate(gradients).value.trace()
    trace_stderr = np.sqrt(2.0 / draws) * trace  # Gaussian-approximation error of a variance sum
    assert abs(trace - factor * covariance.trace()) < z_bound(1) * trace_stderr * 3
    assert abs(trace - other * covariance.trace()) > abs(trace - factor * covariance.trace())


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d", n_train=500, n_test=500, seed=0)


SME = SDEConfig(model="sme1", solver="euler", substeps=2)  # dt = ε/2, never dt = ε


def gap_run(lr: float, replacement: bool, horizon: float = 2.0) -> RunConfig:
    """B = 10 on the 500 examples, 16 paths, to SDE time `horizon`."""
    steps = budget_steps("sde_time", horizon, lr=lr, momentum=0.0, batch_size=10, n_train=500)
    return RunConfig(lr=lr, batch_size=10, n_train=500, replacement=replacement, steps=steps,
                     paths=16, seed=1)


def final_gap(surface, lr: float, *, replacement: bool):
    """SGD − SME1 final train loss (mean, standard error) at SDE time 2, and the SDE
    ensemble's own standard error."""
    run = gap_run(lr, replacement)
    comparison = compare_on_learned(surface, run, SME, save_steps=(run.steps,))
    gap = comparison.gap["train_loss"]
    return (float(gap.value[-1]), float(gap.stderr[-1]),
            float(comparison.sde_estimates["train_loss"].stderr[-1]))


@pytest.mark.parametrize("model", ["logistic", "mlp"])
def test_sgd_and_sde_agree_at_small_lr_with_a_dt_converged_sde(mnist1d, model):
    """At ε = 0.01 (200 updates to SDE time 2), with independent minibatches (drawn with
    replacement: the noise the SDE's independent increments model), the final train losses of
    16 SGD runs and 16 first-order SME paths (exact state-dependent noise, dt = ε/2) agree
    within 4 combined standard errors, on logistic regression and on an MLP — and the SDE is
    converged there: halving dt on the same Brownian paths moves its final train loss and test
    accuracy by less than their ensemble standard error (the paired shift + 4 of its se)."""
    surface = learned_surface(mnist1d, model, width=32)
    gap, stderr, sde_se = final_gap(surface, 0.01, replacement=True)
    assert abs(gap) < 4 * stderr
    shift = dt_convergence(surface, gap_run(0.01, True), SME, paths=4)["train_loss"]
    assert abs(shift["shift"]) + 4 * shift["stderr"] < sde_se


def test_reshuffled_epochs_are_not_described_by_the_sde(mnist1d):
    """Shuffled epochs (without replacement) have the right per-step covariance Σ_B, but an
    epoch's noise sums to zero, which independent SDE increments do not model: at ε = 0.01
    (4 epochs) the same 16-path ensembles resolve that gap (more than 4 standard errors) on
    logistic regression, while with replacement they agree. So the agreement above is not for
    want of resolution, and the comparison must use independent minibatches."""
    surface = learned_surface(mnist1d, "logistic")
    shuffled_gap, shuffled_se, _ = final_gap(surface, 0.01, replacement=False)
    independent_gap, independent_se, _ = final_gap(surface, 0.01, replacement=True)
    assert abs(shuffled_gap) > 4 * shuffled_se
    assert abs(independent_gap) < 4 * independent_se


def test_mlp_learns_mnist1d(mnist1d):
    """Heavy-ball SGD on the MLP reaches test accuracy far above chance (0.1)."""
    surface = learned_surface(mnist1d, "mlp", width=64)
    run = RunConfig(lr=0.05, momentum=0.9, batch_size=25, n_train=500, steps=400, paths=4)
    metrics = surface.ensemble_metrics(simulate_sgd(surface, run, save_steps=(400,)))
    accuracy = metrics["test_accuracy"][:, -1]
    assert accuracy.mean() - 4 * accuracy.std(ddof=1) / 2 > 0.3


def test_learned_surface_fixes_n_train(mnist1d):
    surface = learned_surface(mnist1d, "logistic")
    with pytest.raises(IncompatibleChoiceError, match="n_train=500"):
        simulate_sgd(surface, RunConfig(lr=0.1, batch_size=10, n_train=400))
    run = RunConfig(lr=0.1, batch_size=10, n_train=500)
    with pytest.raises(IncompatibleChoiceError, match="Stratonovich"):
        simulate_sde(surface, run, SDEConfig(solver="heun"))


def test_an_epoch_without_replacement_uses_every_example_once(small_surface):
    """Carrying the epoch's order from step to step: the B-weighted batch gradients of one
    epoch (N = 24, B = 8: 3 batches) sum to N·∇L exactly, for the first and second epochs."""
    surface, theta = small_surface
    key = jax.random.key(9)

    def step(state, s):
        gradient, state = surface.minibatch_gradient(
            surface.parameters(theta), key, s, state, batch_size=8, n_train=24,
            replacement=False
        )
        return state, surface.flatten(gradient)

    _, gradients = jax.lax.scan(step, surface.sampler_state(), jnp.arange(6))
    for epoch in gradients.reshape(2, 3, -1):
        np.testing.assert_allclose(8 * epoch.sum(0), 24 * surface.gradient(theta), rtol=1e-10)
    assert not np.allclose(gradients[0], gradients[3])


def test_random_subset_noise_is_unbiased_for_the_per_example_covariance(small_surface):
    """With a fresh subset of M = 6 of the N = 24 examples per draw, E[D_S z (D_S z)ᵀ] = C(θ):
    the empirical covariance over (z, S) draws matches C within its standard errors."""
    surface, theta = small_surface
    subset = dataclasses.replace(surface, noise_subset=6)
    keys = jax.random.split(jax.random.key(4), 40_000)
    z = jax.random.normal(jax.random.key(6), (40_000, 6), jnp.float64)
    draws = jax.vmap(lambda zz, k: subset.noise_apply(theta, zz, k))(z, keys)
    u = _projections(surface.dim)
    estimate = covariance_estimate(draws @ u.T)
    truth = u @ _explicit_covariance(surface, theta) @ u.T
    assert_within_stderr(estimate.value, estimate.stderr, truth)


def test_random_subset_noise_drives_the_sde_with_euler_only(mnist1d):
    surface = learned_surface(mnist1d, "logistic", noise_subset=100)
    run = RunConfig(lr=0.05, batch_size=10, n_train=500, steps=20, paths=4)
    result = simulate_sde(surface, run, SDEConfig(solver="euler"))
    assert result.diverged_fraction == 0.0
    with pytest.raises(IncompatibleChoiceError, match="once per step|more than once"):
        simulate_sde(surface, run, SDEConfig(model="underdamped", solver="heun"))
