"""The SGD–SDE gap shrinks like ε (first-order SME) and like ε² (second-order SME).

SGD and the SDE are coupled through one Brownian path per ensemble member (common random
numbers): SGD keeps its own law, and the paired standard errors are what the tolerances use.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from test_sgd import quadratic
from tolerances import assert_within_stderr, z_bound

from sgdsde import DoubleWell, RunConfig, SDEConfig, simulate_sde, simulate_sgd
from sgdsde.sde import brownian_spec
from sgdsde.studies import fit_power_law, stationary_gap_scaling, weak_gap_scaling

DECADE = (0.01, 0.03, 0.1)
# |fitted slope − predicted| must be inside the issue's ±0.2 band, and the fit must be
# sharp enough (slope standard error well below the band) for the check to be able to fail.
SLOPE_BAND = 0.2


def test_euler_maruyama_at_dt_equal_lr_is_coupled_sgd_step_for_step():
    """docs/theory.md §2: Euler–Maruyama on the first-order SME with dt = ε *is* SGD with Gaussian
    noise; coupled through the same path, the two agree to round-off."""
    q = quadratic()
    run = RunConfig(lr=0.05, steps=50, paths=4, seed=2)
    sde = SDEConfig(model="sme1", solver="euler", substeps=1, brownian="grid")
    sgd_run = simulate_sgd(q, run, coupling=brownian_spec(q, run, sde))
    sde_run = simulate_sde(q, run, sde)
    np.testing.assert_allclose(sgd_run.theta, sde_run.theta, rtol=0, atol=1e-13)


@pytest.fixture(scope="module")
def stationary_scaling():
    return stationary_gap_scaling(quadratic(), DECADE, sde=SDEConfig(model="sme1"), paths=1500)


def test_stationary_covariance_gap_is_linear_in_lr(stationary_scaling):
    assert stationary_scaling.slope_stderr < SLOPE_BAND / 3
    assert abs(stationary_scaling.slope - 1.0) < SLOPE_BAND


def test_stationary_covariance_gap_matches_the_closed_form(stationary_scaling):
    """The measured gap at every ε equals ‖P_disc − P_SME‖/‖P_SME‖ within its bootstrap error."""
    assert_within_stderr(
        stationary_scaling.gaps, stationary_scaling.stderrs, stationary_scaling.theory
    )


@pytest.fixture(scope="module")
def weak_scalings():
    well = DoubleWell(0.5 * np.eye(2), dtype=jnp.float64)
    return {
        model: weak_gap_scaling(well, DECADE, horizon=1.0, sde=SDEConfig(model=model), paths=2000)
        for model in ("sme1", "sme2")
    }


def test_weak_gap_on_the_double_well_is_linear_in_lr(weak_scalings):
    first_order = weak_scalings["sme1"]
    assert first_order.slope_stderr < SLOPE_BAND / 3
    assert abs(first_order.slope - 1.0) < SLOPE_BAND


def test_second_order_sme_is_measurably_closer_to_sgd_at_small_lr(weak_scalings):
    """At the smallest ε, |gap(SME2)| + z·se < |gap(SME1)| − z·se, and SME2's gap falls
    faster than linearly (weak order 2)."""
    first, second = weak_scalings["sme1"], weak_scalings["sme2"]
    z = z_bound(1)
    assert abs(second.gaps[0]) + z * second.stderrs[0] < abs(first.gaps[0]) - z * first.stderrs[0]
    assert second.slope - 2 * second.slope_stderr > 1.5


def test_power_law_fit_recovers_a_known_slope():
    """Independent check of the fit on synthetic data y = 3x^1.5 with 1% Gaussian noise."""
    rng = np.random.default_rng(0)
    x = np.logspace(-2, -1, 6)
    stderr = 0.01 * 3 * x**1.5
    y = 3 * x**1.5 + stderr * rng.standard_normal(6)
    slope, slope_stderr, _ = fit_power_law(x, y, stderr)
    assert abs(slope - 1.5) < z_bound(1) * slope_stderr
    assert slope_stderr < 0.05


def test_coupling_needs_a_reproducible_path():
    q = quadratic()
    run = RunConfig(lr=0.05, steps=5, paths=2)
    unsafe = brownian_spec(q, run, SDEConfig(brownian="unsafe"))
    with pytest.raises(ValueError, match="grid"):
        simulate_sgd(q, run, coupling=unsafe)
