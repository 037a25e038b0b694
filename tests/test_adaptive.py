"""RMSprop and Adam against their SDEs on a quadratic whose noise does not commute with the
curvature (docs/adaptive.md): the Diffrax ensembles against the exact moment ODEs, the discrete
optax ensembles against the same moments, dt-convergence on one Brownian tree, the weak error's
order in ε along a square-root family, the scaling rules on the quadratic, and the tour part's
claims on hand-made records. Every tolerance is z·stderr with z from the number of
simultaneous checks (tests/tolerances.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import z_bound

from sgdsde import Quadratic, RunConfig, SDEConfig, simulate_sde, simulate_sgd
from sgdsde.adaptive_theory import adaptive_moments
from sgdsde.optimizers import Adam, RMSprop
from sgdsde.studies import adaptive_weak_error, dt_halving, rule_study, weak_statistics
from sgdsde.tour import adaptive_claims

# σ₀ = ε/√B = 1/80, RMSprop c = 1, ε²δ = 0.1, ν₀/f = 1000; Adam c₁ = 4, c₂ = 1, εδ = 0.1:
# one SDE for every ε (B = 6400ε²), as in /docs/adaptive.md §6.
SIGMA0_SQ, THETA0 = 1.0 / 6400.0, jnp.array([1.0, -1.0])


def surface():
    """H = diag(2, 0.5), C = R diag(6400, 1600) Rᵀ with a Haar rotation: C and H do not
    commute."""
    return Quadratic.from_spectra((2.0, 0.5), (6400.0, 1600.0), rotate_noise=True, seed=0,
                                  dtype=jnp.float64)


def family(name, lr):
    """The optax hyper-parameters of the fixed SDE at learning rate ε."""
    tau = lr * lr
    return {
        "rmsprop": RMSprop(decay=1 - tau, eps=0.1 / tau, initial_scale=1000 * SIGMA0_SQ / tau),
        "rmsprop_bc": RMSprop(decay=1 - tau, eps=0.1 / tau, bias_correction=True),
        "adam": Adam(b1=1 - 4 * tau, b2=1 - tau, eps=0.1 / lr),
    }[name]


def run_at(name, lr, *, horizon, paths, seed):
    return RunConfig(lr=lr, batch_size=round(lr * lr / SIGMA0_SQ), steps=round(horizon / lr**2),
                     paths=paths, seed=seed, optimizer=family(name, lr))


def assert_matches_moments(q, run, theta, horizon, count):
    """E θ_1, E θ_2 and E L of an ensemble against the exact SDE moments, z = z_bound(count)."""
    S = q.noise_cov / run.batch_size
    mean, cov = adaptive_moments(q.hessian, S, THETA0, q.minimum, run.lr, run.optimizer,
                                 [horizon])
    loss = 0.5 * (mean[0] @ q.hessian @ mean[0] + jnp.trace(q.hessian @ cov[0]))
    values = [theta[:, 0], theta[:, 1], jax.vmap(q.loss)(theta)]
    for sample, truth in zip(values, [mean[0, 0], mean[0, 1], loss], strict=True):
        z = abs(float(sample.mean() - truth)) / float(sample.std() / np.sqrt(sample.size))
        assert z <= z_bound(count), (run.optimizer, z, float(sample.mean()), float(truth))


@pytest.mark.parametrize("name", ["rmsprop", "rmsprop_bc", "adam"])
def test_sde_ensembles_match_the_exact_moment_odes(name):
    """Euler on the SDE (dt = ε²/4) against Tsit5 on its mean and covariance ODEs."""
    q, horizon = surface(), 0.5
    run = run_at(name, 0.1, horizon=horizon, paths=2000, seed=11)
    sde = simulate_sde(q, run, SDEConfig(run.optimizer.name, "euler", substeps=4),
                       save_steps=(run.steps,), theta0=THETA0)
    assert_matches_moments(q, run, sde.final, horizon, 9)


@pytest.mark.parametrize("name", ["rmsprop_bc", "adam"])
def test_discrete_optax_ensembles_match_their_sde_at_small_lr(name):
    """optax.rmsprop / optax.adam at ε = 0.05 (B = 16, 200 steps) against the exact SDE
    moments: the O(ε²) weak error is far below the ensemble's standard error here."""
    q, horizon = surface(), 0.5
    run = run_at(name, 0.05, horizon=horizon, paths=4000, seed=12)
    discrete = simulate_sgd(q, run, save_steps=(run.steps,), theta0=THETA0)
    assert_matches_moments(q, run, discrete.final, horizon, 9)


def test_sde_is_dt_converged():
    """Halving dt on one Brownian tree moves every SDE number by less than its ensemble
    standard error (and by less than z paired standard errors: no resolved drift)."""
    q = surface()
    run = run_at("adam", 0.1, horizon=0.5, paths=300, seed=13)
    record = dt_halving(q, run, SDEConfig("adam", "euler", substeps=2), weak_statistics(q),
                        theta0=THETA0)
    for name, entry in record.items():
        assert abs(entry["shift"][0]) < entry["sde_stderr"][0], name


@pytest.mark.slow
def test_weak_error_grows_like_lr_squared_from_two_members():
    """Gap at ε = 0.2 and ε = 0.1 of the same SDE (κ = 1, 4 of a square-root family):
    order p = log(gap ratio)/log 2 consistent with 2 (weak order 1 in τ = ε², derived for
    Gaussian noise; the paper's bound is order ≥ 1)."""
    q = surface()
    base = run_at("rmsprop", 0.1, horizon=2.0, paths=4000, seed=14)
    result = adaptive_weak_error(q, base, [1, 4], theta0=THETA0, substeps=4)
    small, large = (m["norm2"] for m in result.members)
    assert abs(large["gap"]) > z_bound(1) * large["gap_stderr"]  # the gap is resolved
    fit = result.fits["norm2"]
    assert abs(fit["order"] - 2.0) <= z_bound(1) * fit["order_stderr"], fit
    assert small["gap"] < 0 and large["gap"] < 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rmsprop", pytest.param("adam", marks=pytest.mark.xfail(
    strict=True, reason="measured 2026-12-04 (float64, this seed): order 1.37 ± 0.11, 5.9 se "
    "below 2; in float32 1.66 ± 0.12 (2.8 se): Adam's gap is not a pure ε² power law over "
    "ε = 0.05…0.2 (docs/adaptive.md §6)"))])
def test_weak_error_order_over_a_square_root_family(name):
    """ε = 0.05 … 0.2 (κ = 1…16), 8000 paths: the fitted order of the ‖θ‖² gap is 2 within
    z·stderr, over at least three resolved members (docs/adaptive.md §6). Holds for RMSprop;
    fails for Adam (marked: strict, so a change that makes it hold is noticed)."""
    q = surface()
    base = run_at(name, 0.05, horizon=2.0, paths=8000, seed=15)
    fit = adaptive_weak_error(q, base, [1, 2, 4, 8, 16], theta0=THETA0, substeps=4).fits["norm2"]
    assert fit["points"] >= 3
    assert abs(fit["order"] - 2.0) <= z_bound(2) * fit["order_stderr"], fit


def test_rules_on_the_quadratic():
    """Adam (B = 4, ε = 0.025, b1 = 0.99, b2 = 0.999, from θ₀ = (1, −1)) on the quadratic:
    the square-root rule keeps the E L trajectory at κ = 16 within 10 % of its progress, the
    linear rule leaves it (Malladi et al. 2022)."""
    q = surface()
    base = RunConfig(lr=0.025, batch_size=4, steps=1600, paths=2000, seed=16,
                     optimizer=Adam(b1=0.99, b2=0.999))
    sqrt = rule_study(q, base, "sqrt", [16], checkpoints=5, theta0=THETA0)
    linear = rule_study(q, base, "linear", [16], checkpoints=5, theta0=THETA0)
    assert sqrt.verdict(16.0) == "equivalent"
    assert linear.verdict(16.0) == "different"


def _tour_record(verdicts):
    rows = lambda key: [{"kappa": 1, "verdict": "reference"}] + [  # noqa: E731
        {"kappa": k, "verdict": v} for k, v in zip((4, 16), verdicts[key], strict=True)]
    keys = [f"{o}/{r}" for o in ("adam", "rmsprop", "sgd") for r in ("sqrt", "linear")]
    return {"settings": {"margin_fraction": 0.1, "kappas": (1, 4, 16)},
            "studies": {k: {"rows": rows(k), "margins": {"train_loss": 0.1}} for k in keys}}


def test_adaptive_tour_claims():
    ok = {"adam/sqrt": ("equivalent",) * 2, "rmsprop/sqrt": ("equivalent",) * 2,
          "adam/linear": ("inconclusive", "different"),
          "rmsprop/linear": ("different", "different"),
          "sgd/linear": ("equivalent",) * 2, "sgd/sqrt": ("different",) * 2}
    assert all(c.held for c in adaptive_claims(_tour_record(ok)))
    broken = {**ok, "rmsprop/sqrt": ("equivalent", "inconclusive"),
              "adam/linear": ("different", "equivalent"), "sgd/sqrt": ("different", "diverged")}
    assert not any(c.held for c in adaptive_claims(_tour_record(broken)))
