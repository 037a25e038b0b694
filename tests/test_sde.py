"""The SDE engine against continuous Lyapunov solutions, exact means and Itô calculus."""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from test_sgd import quadratic
from tolerances import assert_within_stderr, upper_triangle

from sgdsde import (
    FirstOrderSME,
    Quadratic,
    RunConfig,
    SDEConfig,
    Surface,
    simulate_sde,
    theory,
)
from sgdsde.compare import covariance_estimate, mean_estimate
from sgdsde.errors import IncompatibleChoiceError
from sgdsde.studies import steps_to_stationarity

CASES = {
    # model: (lr, momentum, closed form of the stationary θ covariance)
    "sme1": (0.4, 0.0, lambda h, s, lr, m: theory.sme_stationary_cov(h, s, lr, m)),
    "sme1-momentum": (0.04, 0.9, lambda h, s, lr, m: theory.sme_stationary_cov(h, s, lr, m)),
    "sme2": (0.4, 0.0, lambda h, s, lr, m: theory.sme2_stationary_cov(h, s, lr)),
    "underdamped": (0.04, 0.9, theory.underdamped_stationary_cov),
}


def stationary_run(lr: float, momentum: float, paths: int, seed: int) -> RunConfig:
    """Enough updates for the transient from θ* to fall below 1e-4 of the stationary
    covariance (the SDE relaxes at the same rate as SGD up to O(εh), ample margin here)."""
    steps = 2 * steps_to_stationarity(quadratic(), lr, momentum, tolerance=1e-4)
    return RunConfig(lr=lr, momentum=momentum, steps=steps, paths=paths, seed=seed)


@pytest.mark.parametrize("case", CASES)
def test_stationary_covariance_matches_continuous_lyapunov(case):
    lr, momentum, closed_form = CASES[case]
    q = quadratic()
    run = stationary_run(lr, momentum, paths=20_000, seed=21)
    model = case.split("-")[0]
    result = simulate_sde(q, run, SDEConfig(model=model), save_steps=(run.steps,))
    estimate = covariance_estimate(result.final)
    truth = closed_form(q.hessian, q.noise_cov, lr, momentum)
    assert result.diverged_fraction == 0.0
    assert_within_stderr(*map(upper_triangle, (estimate.value, estimate.stderr, truth)))


@pytest.mark.parametrize("model, solver", [("sme1", "shark"), ("underdamped", "heun")])
def test_halving_dt_does_not_move_the_stationary_covariance(model, solver):
    """The same Brownian paths (a virtual Brownian tree) integrated with dt and dt/2: the
    covariance must move by less than its own error bars (the z-bound of its standard error),
    and by less than a tenth of the SGD–SDE gap the comparison is about (docs/theory.md §2)."""
    lr, momentum, closed_form = CASES["sme1" if model == "sme1" else "underdamped"]
    q = quadratic()
    run = stationary_run(lr, momentum, paths=2_000, seed=4)
    coarse, fine = (
        covariance_estimate(
            simulate_sde(
                q, run, SDEConfig(model=model, solver=solver, substeps=k, brownian="tree"),
                save_steps=(run.steps,),
            ).final
        )
        for k in (4, 8)
    )
    moved = upper_triangle(fine.value - coarse.value)
    assert_within_stderr(moved, upper_triangle(fine.stderr), 0.0 * moved)
    sgd_cov = theory.sgd_stationary_cov(q.hessian, q.noise_cov, lr, momentum)
    sde_cov = closed_form(q.hessian, q.noise_cov, lr, momentum)
    gap = np.linalg.norm(sgd_cov - sde_cov)
    assert np.linalg.norm(fine.value - coarse.value) < 0.1 * gap


@pytest.mark.parametrize("solver, order", [("shark", 2), ("euler", 1)])
@pytest.mark.parametrize("model", ["sme1", "sme2", "underdamped"])
def test_noiseless_solution_converges_to_the_closed_form_at_the_solver_order(model, solver, order):
    """Zero noise: each SDE is a linear ODE with a closed-form solution. The error must shrink
    by 2^order per halving of dt (observed order within ±0.25 of the solver's ODE order)."""
    q = Quadratic(np.diag([1.0, 0.4, 2.5]), np.zeros((3, 3)), dtype=jnp.float64)
    theta0 = jnp.array([1.0, -2.0, 0.5])
    momentum = 0.9 if model == "underdamped" else 0.0
    run = RunConfig(lr=0.05, momentum=momentum, steps=40, paths=1)
    steps = jnp.arange(0, 41, 10)
    if model == "underdamped":
        exact = theory.underdamped_mean(q.hessian, q.minimum, theta0, 0.05, momentum, steps)
    else:
        hessian = q.hessian if model == "sme1" else q.hessian + 0.025 * q.hessian @ q.hessian
        exact = theory.sme_mean(hessian, q.minimum, theta0, 0.05, momentum, steps)

    def error(substeps: int) -> float:
        sde = SDEConfig(model=model, solver=solver, substeps=substeps)
        result = simulate_sde(q, run, sde, save_steps=tuple(range(0, 41, 10)), theta0=theta0)
        return float(jnp.abs(result.theta[0] - exact).max())

    observed_order = np.log2(error(8) / error(16))
    assert abs(observed_order - order) < 0.25


class MultiplicativeNoise(Surface):
    """L = hθ²/2 in 1-D with per-example gradient noise D(θ) = σθ (state-dependent)."""

    curvature: float
    sigma: float
    additive_noise: ClassVar[bool] = False
    gaussian_noise: ClassVar[bool] = True

    @property
    def dim(self):
        return 1

    @property
    def noise_dim(self):
        return 1

    def loss(self, theta):
        return 0.5 * self.curvature * jnp.sum(theta**2)

    def noise_apply(self, theta, z, key=None):
        return self.sigma * theta * z

    def initial_point(self):
        return jnp.ones(1)


def test_state_dependent_noise_is_integrated_in_the_ito_sense():
    """dθ = −hθ dt + √ε σθ dW (Itô) has E θ_t = θ₀e^{−ht} exactly; the Stratonovich reading
    would give θ₀e^{(−h + εσ²/2)t}, 10% larger at the horizon below. Euler with real
    state-dependent (matrix-free) noise must hit the Itô mean within its standard error."""
    surface = MultiplicativeNoise(curvature=1.0, sigma=2.0)
    run = RunConfig(lr=0.1, steps=10, paths=40_000, seed=8)
    result = simulate_sde(surface, run, SDEConfig(model="sme1", substeps=32), save_steps=(10,))
    estimate = mean_estimate(result.final[:, 0])
    ito, stratonovich = np.exp(-1.0), np.exp(-1.0 + 0.1 * 4.0 / 2)
    assert abs(float(estimate.value) - ito) <= 4 * float(estimate.stderr)
    assert abs(float(estimate.value) - stratonovich) > 10 * float(estimate.stderr)


def test_declared_structure_rejects_mismatched_choices_before_compiling():
    multiplicative = MultiplicativeNoise(curvature=1.0, sigma=1.0)
    with pytest.raises(IncompatibleChoiceError, match="needs momentum=0"):
        simulate_sde(quadratic(), RunConfig(lr=0.1, momentum=0.5), SDEConfig(model="sme2"))
    with pytest.raises(IncompatibleChoiceError, match="additive"):
        simulate_sde(multiplicative, RunConfig(lr=0.1), SDEConfig(solver="shark"))
    with pytest.raises(IncompatibleChoiceError, match="Stratonovich"):
        simulate_sde(multiplicative, RunConfig(lr=0.1), SDEConfig(solver="heun"))


class ScaledSME(FirstOrderSME):
    """A user's model: the first-order SME with its noise doubled (variance ×4), defined outside
    the package and passed as an object, with no registry entry needed to run it."""

    name = "scaled_sme1"

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        return 2.0 * super().diffusion(surface, y, z, lr, momentum, noise_factor, key)

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        return 4.0 * super().stationary_cov(hessian, minibatch_cov, lr, momentum)


def test_a_model_object_is_integrated_like_a_registered_one():
    """simulate_sde takes a model object (here one defined in this test): its stationary
    covariance must match its own closed form (4× the SME's), and the registered model passed
    as an object gives bit-identical paths to the same model passed by name."""
    q = quadratic()
    lr = 0.4
    run = stationary_run(lr, 0.0, paths=20_000, seed=5)
    scaled = simulate_sde(q, run, ScaledSME(), save_steps=(run.steps,))
    estimate = covariance_estimate(scaled.final)
    truth = ScaledSME().stationary_cov(q.hessian, q.noise_cov, lr, 0.0)
    assert scaled.info["model"] == "scaled_sme1"
    assert_within_stderr(*map(upper_triangle, (estimate.value, estimate.stderr, truth)))
    small = RunConfig(lr=lr, steps=5, paths=3, seed=1)
    by_name = simulate_sde(q, small, SDEConfig(model="sme1"))
    by_object = simulate_sde(q, small, SDEConfig(model=FirstOrderSME()))
    np.testing.assert_array_equal(np.asarray(by_name.theta), np.asarray(by_object.theta))
