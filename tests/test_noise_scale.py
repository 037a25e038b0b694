"""The gradient noise scale (McCandlish et al. 2018): the exact B_simple and B_noise against
closed forms on a quadratic and an NQM and against an independent dense computation on learned
surfaces (both of its routes), the two-batch estimator against the exact values within its
standard errors, along training, and bad input refused before compilation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import z_bound

import sgdsde
from sgdsde.errors import IncompatibleChoiceError, ParameterRangeError
from sgdsde.studies import gradient_noise_scale, noise_scale_along_training, two_batch_noise_scale
from sgdsde.surfaces import SVAG, NoisyQuadratic


@pytest.fixture(scope="module")
def quadratic():
    return sgdsde.Quadratic.from_spectra([1.0, 0.4, 2.5], [1.0, 0.5, 2.0], rotate_noise=True,
                                         dtype=jnp.float64)


@pytest.fixture(scope="module")
def data():
    return sgdsde.load_dataset("mnist1d", n_train=120, n_test=50, seed=1)


@pytest.fixture(scope="module")
def small_data():
    return sgdsde.load_dataset("mnist1d", n_train=40, n_test=20, seed=1)


def dense_noise_scale(surface, theta):
    """B_simple and B_noise from the explicit N×d Jacobian of the per-example losses and the
    dense Hessian (jax.jacrev, jax.hessian), population covariance by numpy."""
    x, y = surface.x_train, surface.y_train
    jacobian = np.asarray(jax.jit(jax.jacrev(lambda t: surface.per_example_losses(t, x, y)))(
        theta))
    hessian = np.asarray(jax.jit(jax.hessian(surface.loss))(theta))
    gradient = np.asarray(surface.gradient(theta))
    cov = np.cov(jacobian.T, bias=True)
    return sgdsde.theory.critical_batch_size(gradient, cov, hessian), np.trace(cov)


def test_exact_on_a_quadratic_is_the_closed_form(quadratic):
    theta = jnp.array([1.0, -0.5, 0.3])
    result = gradient_noise_scale(quadratic, theta)
    H, C = np.asarray(quadratic.hessian), np.asarray(quadratic.noise_cov)
    g = H @ np.asarray(theta)
    assert result.trace_cov == pytest.approx(np.trace(C), rel=1e-12)
    assert result.grad_sq_norm == pytest.approx(g @ g, rel=1e-12)
    assert result.b_simple == pytest.approx(np.trace(C) / (g @ g), rel=1e-12)
    assert result.b_noise == pytest.approx(np.trace(H @ C) / (g @ H @ g), rel=1e-12)


def test_exact_on_the_nqm_is_the_closed_form():
    surface = NoisyQuadratic.power_law(300, power=1.5, noise=2.0, dtype=jnp.float64)
    theta = jnp.linspace(-1.0, 2.0, 300)
    h, c, t = (np.asarray(a) for a in (surface.curvatures, surface.noise_variances, theta))
    result = gradient_noise_scale(surface, theta)
    assert result.b_simple == pytest.approx(c.sum() / np.sum((h * t) ** 2), rel=1e-10)
    assert result.b_noise == pytest.approx(np.sum(h * c) / np.sum(h**3 * t**2), rel=1e-10)


@pytest.mark.parametrize(("model", "width", "l2"), [("logistic", 1, 0.0), ("mlp", 4, 0.01)])
def test_exact_on_a_learned_surface_matches_a_dense_computation(small_data, model, width, l2):
    """Logistic regression (d = 410) and an MLP with an L2 term (d = 214), both with d > N = 40
    (Hessian–vector products on the N per-example columns): every number to round-off."""
    surface = sgdsde.learned_surface(small_data, model, width=width, l2=l2, dtype=jnp.float64,
                                     seed=2)
    theta = surface.initial_point() + 0.05
    result = gradient_noise_scale(surface, theta)
    dense, trace = dense_noise_scale(surface, theta)
    assert result.b_simple == pytest.approx(dense["b_simple"], rel=1e-9)
    assert result.b_noise == pytest.approx(dense["b_noise"], rel=1e-9)
    assert result.trace_cov == pytest.approx(trace, rel=1e-9)


def test_exact_through_the_hessian_when_d_is_below_n():
    """Binary logistic regression on breast_cancer: d = 31 < N = 60, so H is formed by d
    products; the same numbers as the dense computation."""
    data = sgdsde.load_dataset("breast_cancer", n_train=60, n_test=20, seed=0)
    surface = sgdsde.learned_surface(data, "logistic", dtype=jnp.float64, seed=0)
    theta = surface.initial_point() + 0.1
    result = gradient_noise_scale(surface, theta)
    dense, _ = dense_noise_scale(surface, theta)
    assert surface.dim < surface.n_train
    assert result.b_simple == pytest.approx(dense["b_simple"], rel=1e-9)
    assert result.b_noise == pytest.approx(dense["b_noise"], rel=1e-9)


@pytest.mark.parametrize("replacement", [True, False])
def test_two_batch_estimate_recovers_the_exact_values(data, quadratic, replacement):
    """tr C and |G|² are unbiased: on the quadratic (Gaussian noise) and on an MLP (real
    minibatches, with and without replacement) each estimate is within Bonferroni z·se of the
    exact value (2 quantities × 2 surfaces, seeded)."""
    mlp = sgdsde.learned_surface(data, "mlp", width=8, dtype=jnp.float64, seed=0)
    cases = [(quadratic, jnp.array([1.0, -0.5, 0.3]), 2, 16), (mlp, None, 4, 60)]
    z = z_bound(4)
    for surface, theta, small, large in cases:
        exact = gradient_noise_scale(surface, theta)
        estimate = two_batch_noise_scale(surface, theta, small_batch=small, large_batch=large,
                                         pairs=2000, seed=11, replacement=replacement)
        for name in ("trace_cov", "grad_sq_norm"):
            value, se = getattr(estimate, name)
            assert abs(value - getattr(exact, name)) <= z * se, (name, value, se, exact)
        assert estimate.b_simple.stderr > 0


def test_noise_scale_changes_along_training(data):
    """Along an SGD run the exact B_simple moves (|G|² falls as training proceeds) and every
    estimate stays within its error bars (Bonferroni over points × 2 quantities)."""
    mlp = sgdsde.learned_surface(data, "mlp", width=8, dtype=jnp.float64, seed=0)
    run = sgdsde.RunConfig(lr=0.1, batch_size=8, n_train=120, steps=300, paths=1, seed=0)
    record = noise_scale_along_training(mlp, run, save_steps=(0, 100, 300), small_batch=4,
                                        large_batch=64, pairs=1000)
    exact = record["exact"][0]
    assert exact[-1]["b_simple"] > 2 * exact[0]["b_simple"]
    z = z_bound(6)
    for point, estimate in zip(exact, record["estimate"][0], strict=True):
        for name in ("trace_cov", "grad_sq_norm"):
            entry = estimate[name]
            assert abs(entry["value"] - point[name]) <= z * entry["stderr"]


def test_surface_without_per_example_gradients_is_refused(data):
    svag = SVAG(sgdsde.learned_surface(data, "logistic"), 2)
    with pytest.raises(IncompatibleChoiceError, match="two_batch_noise_scale"):
        gradient_noise_scale(svag)
    with pytest.raises(IncompatibleChoiceError, match="surface"):
        noise_scale_along_training(svag, sgdsde.RunConfig(lr=0.1, n_train=120), small_batch=2,
                                   large_batch=8)


@pytest.mark.parametrize(("small", "large", "replacement", "name"), [
    (8, 8, True, "small_batch"), (16, 8, True, "small_batch"), (0, 8, True, "small_batch"),
    (4, 1, True, "large_batch"), (4, 121, False, "large_batch")])
def test_bad_batch_pairs_are_refused_before_compilation(data, monkeypatch, small, large,
                                                        replacement, name):
    import sgdsde.studies._noise_scale as module

    monkeypatch.setattr(module, "_pair_squares", lambda *a, **k: pytest.fail("compiled"))
    surface = sgdsde.learned_surface(data, "logistic")
    with pytest.raises(ParameterRangeError, match=name):
        two_batch_noise_scale(surface, small_batch=small, large_batch=large,
                              replacement=replacement)
