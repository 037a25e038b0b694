"""The discrete engine against exact means, discrete Lyapunov solutions and optax itself."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from tolerances import assert_within_stderr, upper_triangle

from sgdsde import Quadratic, RunConfig, simulate_sgd, theory
from sgdsde.compare import covariance_estimate
from sgdsde.studies import steps_to_stationarity

NON_COMMUTING = dict(hessian_eigenvalues=[1.0, 0.4, 2.5], noise_eigenvalues=[2.0, 0.5, 1.0])


def quadratic(noise_scale: float = 1.0, rotate: bool = True) -> Quadratic:
    return Quadratic.from_spectra(
        NON_COMMUTING["hessian_eigenvalues"],
        noise_scale * np.asarray(NON_COMMUTING["noise_eigenvalues"]),
        rotate_noise=rotate,
        seed=3,
        dtype=jnp.float64,
    )


def test_noise_is_not_aligned_with_curvature():
    q = quadratic()
    commutator = q.hessian @ q.noise_cov - q.noise_cov @ q.hessian
    assert np.linalg.norm(commutator) > 0.3 * np.linalg.norm(q.noise_cov)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_noiseless_trajectory_is_optax_heavy_ball_exactly(momentum):
    """Zero noise: the engine must reproduce a plain optax loop and the exact mean T^k z₀."""
    q = Quadratic(np.diag([1.0, 0.4, 2.5]), np.zeros((3, 3)), dtype=jnp.float64)
    theta0 = jnp.array([1.0, -2.0, 0.5])
    run = RunConfig(lr=0.1, momentum=momentum, steps=60, paths=2)
    result = simulate_sgd(q, run, save_steps=range(0, 61, 10), theta0=theta0)

    optimizer = optax.sgd(0.1, momentum=momentum)
    theta, state, reference = theta0, optimizer.init(theta0), [theta0]
    for step in range(1, 61):
        updates, state = optimizer.update(q.hessian @ theta, state)
        theta = optax.apply_updates(theta, updates)
        if step % 10 == 0:
            reference.append(theta)
    exact = theory.sgd_mean(q.hessian, q.minimum, theta0, 0.1, momentum, jnp.arange(0, 61, 10))
    np.testing.assert_allclose(result.theta[0], np.stack(reference), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.theta[1], exact, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "momentum, n_train, batch_size",
    [(0.0, None, 1), (0.9, None, 1), (0.0, 20, 8)],
    ids=["sgd", "heavy-ball-0.9", "finite-N-without-replacement"],
)
def test_stationary_covariance_matches_discrete_lyapunov(momentum, n_train, batch_size):
    """Final states of independent paths started at θ* sample the stationary law once the
    transient (ρ^{2k}) is below 1e-4 of the covariance; each of the 6 distinct covariance
    entries must lie within the Bonferroni z-bound of its standard error."""
    q = quadratic()
    lr = 0.4 if momentum == 0.0 else 0.05
    steps = steps_to_stationarity(q, lr, momentum, tolerance=1e-4)
    run = RunConfig(
        lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
        steps=steps, paths=20_000, seed=11,
    )
    estimate = covariance_estimate(simulate_sgd(q, run, save_steps=(run.steps,)).final)
    factor = theory.minibatch_noise_factor(batch_size, n_train)
    truth = theory.sgd_stationary_cov(q.hessian, factor * q.noise_cov, lr, momentum)
    assert_within_stderr(*map(upper_triangle, (estimate.value, estimate.stderr, truth)))


def test_paths_do_not_depend_on_ensemble_size():
    q = quadratic()
    small = simulate_sgd(q, RunConfig(lr=0.1, steps=20, paths=3, seed=5))
    large = simulate_sgd(q, RunConfig(lr=0.1, steps=20, paths=7, seed=5))
    np.testing.assert_array_equal(small.theta, large.theta[:3])
    other_seed = simulate_sgd(q, RunConfig(lr=0.1, steps=20, paths=3, seed=6))
    assert not np.allclose(small.theta[:, -1], other_seed.theta[:, -1])


def test_unstable_learning_rate_is_recorded_as_diverged_not_as_numbers():
    q = quadratic()
    bound = float(theory.max_stable_lr(q.hessian, 0.0))
    result = simulate_sgd(q, RunConfig(lr=1.05 * bound, steps=3000, paths=16))
    assert result.diverged_fraction == 1.0
    stable = simulate_sgd(q, RunConfig(lr=0.95 * bound, steps=3000, paths=16))
    assert stable.diverged_fraction == 0.0


def test_zero_momentum_runs_without_a_velocity_and_the_same_updates():
    """m = 0 is run as plain SGD without a velocity buffer (``kernel_momentum`` gives None):
    on a real MLP surface with shuffled minibatches the trajectories equal, bit for bit, the
    heavy-ball kernel's with a traced m = 0 (v = 0·v + ĝ = ĝ), and a nonzero m is kept."""
    from sgdsde import learned_surface, load_dataset
    from sgdsde.brownian import Stream, path_keys
    from sgdsde.sgd import kernel_momentum, sgd_trajectories

    surface = learned_surface(load_dataset("digits", n_train=64, n_test=32), width=16)
    options = dict(batch=(8, 64, False), coupling=None)
    keys, steps = path_keys(3, 4, Stream.MINIBATCH), jnp.asarray([0, 5, 40])
    dtype = surface.theta_init.dtype
    lr = jnp.asarray(0.3, dtype)
    assert kernel_momentum([0.0, 0.0], jnp.float32) is None
    assert kernel_momentum([0.0, 0.5], jnp.float32).shape == (2,)
    plain = sgd_trajectories(surface, surface.theta_init, lr, None, keys, steps, **options)
    traced = sgd_trajectories(surface, surface.theta_init, lr, jnp.zeros((4,), dtype), keys,
                              steps, **options)
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(traced))
    assert not np.array_equal(np.asarray(plain[:, -1]), np.asarray(plain[:, 0]))
    heavy = sgd_trajectories(surface, surface.theta_init, lr, jnp.full((4,), 0.5, dtype), keys,
                             steps, **options)
    assert not np.allclose(np.asarray(heavy[:, -1]), np.asarray(plain[:, -1]))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_start_in_another_dtype_runs_in_the_surfaces_dtype(optimizer):
    """A float64 θ₀ on a float32 network surface (x64 on, as in the tests): heavy ball and Adam
    run in the network's float32, from θ₀ rounded to it, and give the same θ as a float32 θ₀."""
    from sgdsde import Adam, learned_surface, load_dataset

    surface = learned_surface(load_dataset("digits", n_train=64, n_test=32), width=16)
    extra = {} if optimizer == "sgd" else {"optimizer": Adam()}
    run = RunConfig(lr=0.05, batch_size=8, n_train=64, steps=20, paths=2,
                    momentum=0.9 if optimizer == "sgd" else 0.0, **extra)
    wide = simulate_sgd(surface, run, theta0=np.asarray(surface.theta_init, np.float64))
    narrow = simulate_sgd(surface, run)
    assert wide.theta.dtype == surface.theta_init.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(wide.theta), np.asarray(narrow.theta))
