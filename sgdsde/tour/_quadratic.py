"""The quadratic part of the tour: the engine's claims, checked against closed forms.

Pure library code: every function here computes and returns data (no printing, no files);
:func:`sgdsde.tour.run_tour` runs it with the other parts, and
``experiments/quadratic_validation.py`` calls the same functions. The claims
(docs/theory.md §3–4):

1. Plain SGD (m = 0) on a 3-D quadratic whose gradient noise is *not* aligned with the
   curvature: the SGD ensemble's stationary covariance equals the discrete Lyapunov solution,
   the first-order SME's the continuous one, and SGD exceeds the SME by the predicted O(ε)
   amount.
2. Heavy ball (m = 0.9): SGD matches the discrete phase-space Lyapunov solution; the
   underdamped SDE matches its own closed form and sits closer to SGD than the first-order SME,
   which for non-commuting H and C misses the off-diagonal structure.
3. The stationary SGD–SDE gap grows like ε over a decade of learning rates.
4. On the double well (non-quadratic, no closed form) the finite-horizon weak error of the
   first-order SME shrinks like ε, and the second-order SME's is smaller.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import theory
from ..compare import Estimate, difference_estimate, finite_paths
from ..config import RunConfig, SDEConfig
from ..studies import (
    GapScaling,
    QuadraticComparison,
    auto_steps,
    compare_on_quadratic,
    stationary_gap_scaling,
    weak_gap_scaling,
)
from ..surfaces import DoubleWell, Quadratic
from ._claims import ALPHA, Claim, bonferroni_z


@dataclasses.dataclass(frozen=True)
class QuadraticTourSettings:
    """Sizes and parameters of the tour (defaults: the full tour, a few minutes on 2 CPU cores).

    **Arguments:**

    - `hessian_eigs`, `noise_eigs`: spectra of H and C; C is rotated by a Haar rotation
      seeded by `rotation_seed` so that it does not commute with H.
    - `lr`: ε of the plain-SGD comparison (claim 1).
    - `momentum`, `momentum_lr`: m and ε of the heavy-ball comparison (claim 2).
    - `paths`: ensemble size of the comparisons; `min_steps`, `max_steps` clip the number of
      updates chosen by :func:`sgdsde.studies.steps_to_stationarity`.
    - `substeps`: SDE solver steps per SGD step.
    - `gap_lrs`, `gap_paths`: learning rates and ensemble size of the stationary gap scaling.
    - `weak_lrs`, `weak_paths`, `horizon`, `well_dim`, `well_noise`, `well_start`: learning
      rates, ensemble size, SDE time horizon, dimension, (isotropic) noise variance and start
      θ₀ (every coordinate; 2 = twice the well's width, outside the wells, where the drift
      and its curvature are large, so the O(ε) term of the first-order SME dominates) of the
      double-well weak-error scaling.
    - `seed`: seed of every ensemble.
    - `float64`: build the surfaces in float64 (needs jax x64 enabled).
    """

    hessian_eigs: tuple[float, ...] = (1.0, 0.4, 2.5)
    noise_eigs: tuple[float, ...] = (1.0, 0.5, 2.0)
    rotation_seed: int = 0
    lr: float = 0.1
    momentum: float = 0.9
    momentum_lr: float = 0.02
    paths: int = 16000
    min_steps: int = 50
    max_steps: int = 5000
    substeps: int = 4
    gap_lrs: tuple[float, ...] = (0.01, 0.0215, 0.0464, 0.1)
    gap_paths: int = 2000
    weak_lrs: tuple[float, ...] = (0.0125, 0.025, 0.05, 0.1)
    weak_paths: int = 4000
    horizon: float = 1.0
    well_dim: int = 2
    well_noise: float = 0.5
    well_start: float = 2.0
    seed: int = 0
    float64: bool = False

    @classmethod
    def quick(cls, **overrides: Any) -> QuadraticTourSettings:
        """A much smaller tour (seconds of compute, loose error bars) for tests and smoke runs."""
        small = dict(
            paths=400, max_steps=200, substeps=2, gap_lrs=(0.025, 0.1), gap_paths=200,
            weak_lrs=(0.05, 0.1), weak_paths=200,
        )
        return cls(**{**small, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of every setting."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class QuadraticTourResult:
    """Everything the tour computed: the comparisons, the scaling studies and the claims."""

    settings: QuadraticTourSettings
    plain_sme1: QuadraticComparison
    momentum_underdamped: QuadraticComparison
    momentum_sme1: QuadraticComparison
    stationary_gap: GapScaling
    weak_sme1: GapScaling
    weak_sme2: GapScaling
    seconds: dict[str, float]
    claims: tuple[Claim, ...] = ()

    def comparisons(self) -> dict[str, QuadraticComparison]:
        """The three quadratic comparisons, keyed by name (plain_sme1, momentum_*)."""
        return {
            "plain_sme1": self.plain_sme1,
            "momentum_underdamped": self.momentum_underdamped,
            "momentum_sme1": self.momentum_sme1,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (NaN is kept as float NaN; see :func:`sgdsde._io.json_safe`)."""
        return {
            "settings": self.settings.to_dict(),
            "comparisons": {k: comparison_record(c) for k, c in self.comparisons().items()},
            "stationary_gap_scaling": self.stationary_gap.to_dict(),
            "weak_gap_scaling": {
                "sme1": self.weak_sme1.to_dict(), "sme2": self.weak_sme2.to_dict(),
            },
            "claims": [c.to_dict() for c in self.claims],
            "seconds": self.seconds,
            "provenance": {
                "sgdsde_version": self.plain_sme1.sgd_run.info["sgdsde_version"],
                "device": self.plain_sme1.sgd_run.info["device"],
            },
        }


def tour_quadratic(settings: QuadraticTourSettings) -> Quadratic:
    """The tour's quadratic: H = diag(hessian_eigs), C = R diag(noise_eigs) Rᵀ (R Haar)."""
    return Quadratic.from_spectra(
        settings.hessian_eigs, settings.noise_eigs, rotate_noise=True,
        seed=settings.rotation_seed, dtype=_dtype(settings),
    )


def tour_double_well(settings: QuadraticTourSettings) -> DoubleWell:
    """The tour's double well: minima at ±1, curvature 1, isotropic noise `well_noise`."""
    return DoubleWell(
        settings.well_noise * np.eye(settings.well_dim), dtype=_dtype(settings)
    )


def tour_well_start(settings: QuadraticTourSettings) -> jnp.ndarray:
    """θ₀ of the weak-error runs: `well_start` in every coordinate."""
    return jnp.full((settings.well_dim,), settings.well_start, dtype=_dtype(settings))


def _dtype(settings: QuadraticTourSettings) -> Any:
    return jnp.float64 if settings.float64 else jnp.float32


def stationary_comparison(
    surface: Quadratic, settings: QuadraticTourSettings, *, lr: float, momentum: float,
    model: str
) -> QuadraticComparison:
    """:func:`compare_on_quadratic` with the tour's sizes and the automatic number of steps."""
    run = RunConfig(
        lr=lr, momentum=momentum, batch_size=1,
        steps=auto_steps(surface, lr, momentum, settings.min_steps, settings.max_steps),
        paths=settings.paths, seed=settings.seed,
    )
    return compare_on_quadratic(surface, run, SDEConfig(model=model, substeps=settings.substeps))


def run_quadratic_section(
    settings: QuadraticTourSettings = QuadraticTourSettings(),
    on_step: Callable[[str, int, int], None] | None = None,
) -> QuadraticTourResult:
    """Run the quadratic part of the tour and evaluate its claims.

    **Arguments:**

    - `settings`: sizes and parameters.
    - `on_step`: called as ``on_step(description, index, total)`` before each of the
      six stages (for progress display; the tour itself never prints).

    **Returns:** a :class:`QuadraticTourResult` with the claims evaluated.
    """
    quadratic = tour_quadratic(settings)
    well = tour_double_well(settings)
    sde = SDEConfig(substeps=settings.substeps)
    stages: list[tuple[str, str, Callable[[], Any]]] = [
        ("plain_sme1", f"SGD vs first-order SME, m=0, ε={settings.lr}",
         lambda: stationary_comparison(quadratic, settings, lr=settings.lr, momentum=0.0,
                                       model="sme1")),
        ("momentum_underdamped",
         f"heavy ball vs underdamped SDE, m={settings.momentum}, ε={settings.momentum_lr}",
         lambda: stationary_comparison(quadratic, settings, lr=settings.momentum_lr,
                                       momentum=settings.momentum, model="underdamped")),
        ("momentum_sme1",
         f"heavy ball vs first-order SME, m={settings.momentum}, ε={settings.momentum_lr}",
         lambda: stationary_comparison(quadratic, settings, lr=settings.momentum_lr,
                                       momentum=settings.momentum, model="sme1")),
        ("stationary_gap", f"stationary gap over ε ∈ {list(settings.gap_lrs)}",
         lambda: stationary_gap_scaling(quadratic, settings.gap_lrs, sde=sde,
                                        paths=settings.gap_paths, seed=settings.seed)),
        ("weak_sme1", f"double-well weak error, sme1, ε ∈ {list(settings.weak_lrs)}",
         lambda: weak_gap_scaling(well, settings.weak_lrs, horizon=settings.horizon,
                                  sde=dataclasses.replace(sde, model="sme1"),
                                  paths=settings.weak_paths, seed=settings.seed,
                                  theta0=tour_well_start(settings))),
        ("weak_sme2", f"double-well weak error, sme2, ε ∈ {list(settings.weak_lrs)}",
         lambda: weak_gap_scaling(well, settings.weak_lrs, horizon=settings.horizon,
                                  sde=dataclasses.replace(sde, model="sme2"),
                                  paths=settings.weak_paths, seed=settings.seed,
                                  theta0=tour_well_start(settings))),
    ]
    outputs: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for index, (key, description, stage) in enumerate(stages):
        if on_step is not None:
            on_step(description, index, len(stages))
        start = time.perf_counter()
        outputs[key] = stage()
        seconds[key] = time.perf_counter() - start
    result = QuadraticTourResult(settings=settings, seconds=seconds, **outputs)
    return dataclasses.replace(result, claims=tuple(quadratic_claims(result)))


# --- statistics behind the claims -------------------------------------------------------


def entry_z_scores(estimate: Estimate, truth: np.ndarray) -> np.ndarray:
    """(estimate − truth)/stderr on the distinct (upper-triangular) entries of a symmetric
    matrix."""
    value, stderr = np.asarray(estimate.value), np.asarray(estimate.stderr)
    rows, cols = np.triu_indices(value.shape[0])
    return (value[rows, cols] - np.asarray(truth)[rows, cols]) / stderr[rows, cols]


def trace_gap(comparison: QuadraticComparison) -> tuple[Estimate, float]:
    """tr(Ĉ_sgd) − tr(Ĉ_sde) with its standard error (independent ensembles), and the closed
    form tr(P_sgd − P_sde)."""
    sgd_final, sde_final = (np.asarray(finite_paths(run)[0])
                            for run in (comparison.sgd_run, comparison.sde_run))

    def spread(x: np.ndarray) -> jnp.ndarray:
        count = x.shape[0]
        return jnp.asarray(np.sum((x - x.mean(0)) ** 2, axis=1) * count / (count - 1))

    measured = difference_estimate(spread(sgd_final), spread(sde_final), paired=False)
    predicted = float(np.trace(comparison.theory_sgd_cov - comparison.theory_sde_cov))
    return Estimate(float(measured.value), float(measured.stderr)), predicted


def covariance_difference_z(comparison: QuadraticComparison) -> np.ndarray:
    """z-scores of the measured entrywise Ĉ_sgd − Ĉ_sde against the closed-form difference."""
    sgd, sde = comparison.sgd_cov, comparison.sde_cov
    measured = Estimate(
        np.asarray(sgd.value) - np.asarray(sde.value),
        np.hypot(np.asarray(sgd.stderr), np.asarray(sde.stderr)),
    )
    return entry_z_scores(measured, comparison.theory_sgd_cov - comparison.theory_sde_cov)


def _fmt(value: float, stderr: float | None = None, digits: int = 3) -> str:
    if stderr is None:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {stderr:.2g}"


def _diagonal(matrix: Any) -> str:
    return "[" + ", ".join(f"{float(x):.4g}" for x in np.diag(np.asarray(matrix))) + "]"


def _covariance_claim(name: str, who: str, estimate: Estimate, truth: np.ndarray,
                      truth_name: str) -> Claim:
    z = entry_z_scores(estimate, truth)
    crit = bonferroni_z(z.size)
    finite = bool(np.all(np.isfinite(z)))
    return Claim(
        name=name,
        statement=f"{who} stationary covariance equals the {truth_name}",
        predicted=f"all {z.size} distinct entries within {crit:.2f} standard errors of the "
        f"{truth_name} (diagonal {_diagonal(truth)})",
        measured=f"max |z| = {np.max(np.abs(z)):.2f} (diagonal "
        f"{_diagonal(estimate.value)})",
        held=finite and bool(np.max(np.abs(z)) <= crit),
        test=f"entrywise z-scores, Bonferroni over {z.size} entries at α={ALPHA}",
    )


def _slope_claim(name: str, statement: str, scaling: GapScaling, expected: float) -> Claim:
    crit = bonferroni_z(1)
    slope, stderr = float(scaling.slope), float(scaling.slope_stderr)
    return Claim(
        name=name,
        statement=statement,
        predicted=f"log-log slope {expected:g}",
        measured=f"slope {_fmt(slope, stderr)} over ε ∈ [{min(scaling.lrs):g}, "
        f"{max(scaling.lrs):g}]",
        held=bool(np.isfinite(slope) and abs(slope - expected) <= crit * stderr),
        test=f"|slope − {expected:g}| ≤ {crit:.2f}·stderr (α={ALPHA})",
    )


def quadratic_claims(result: QuadraticTourResult) -> list[Claim]:
    """Check every claim of the tour against its prediction; each test is stated in words."""
    plain, under, sme1m = result.plain_sme1, result.momentum_underdamped, result.momentum_sme1
    claims = [
        _covariance_claim("sgd_matches_discrete_lyapunov", "SGD (m=0)", plain.sgd_cov,
                          plain.theory_sgd_cov, "discrete Lyapunov solution"),
        _covariance_claim("sme1_matches_continuous_lyapunov", "First-order SME", plain.sde_cov,
                          plain.theory_sde_cov, "continuous Lyapunov solution"),
    ]
    gap, predicted = trace_gap(plain)
    crit = bonferroni_z(1)
    claims.append(Claim(
        name="sgd_exceeds_sme_by_predicted_gap",
        statement="SGD's stationary variance exceeds the first-order SME's by the O(ε) amount "
        "the closed forms predict",
        predicted=f"tr(P_sgd − P_sme) = {predicted:.4g} (relative Frobenius gap "
        f"{plain.to_dict()['theory_relative_gap']:.3g} at ε={plain.run.lr})",
        measured=f"tr(Ĉ_sgd − Ĉ_sme) = {_fmt(float(gap.value), float(gap.stderr))}",
        held=bool(abs(float(gap.value) - predicted) <= crit * float(gap.stderr)),
        test=f"|measured − predicted| ≤ {crit:.2f}·stderr (α={ALPHA})",
    ))
    claims += [
        _covariance_claim("heavy_ball_matches_discrete_lyapunov",
                          f"Heavy-ball SGD (m={under.run.momentum})", under.sgd_cov,
                          under.theory_sgd_cov, "discrete phase-space Lyapunov solution"),
        _covariance_claim("underdamped_matches_its_lyapunov", "Underdamped SDE", under.sde_cov,
                          under.theory_sde_cov, "continuous phase-space Lyapunov solution"),
        _covariance_claim("sme1_momentum_matches_its_lyapunov",
                          f"First-order SME (m={sme1m.run.momentum})", sme1m.sde_cov,
                          sme1m.theory_sde_cov, "continuous Lyapunov solution"),
    ]
    gap_u = under.to_dict()["theory_relative_gap"]
    gap_s = sme1m.to_dict()["theory_relative_gap"]
    z_u, z_s = covariance_difference_z(under), covariance_difference_z(sme1m)
    crit_u = bonferroni_z(z_u.size)
    claims.append(Claim(
        name="underdamped_closer_than_sme1_for_momentum",
        statement=f"For m={under.run.momentum} the underdamped SDE describes heavy ball better "
        "than the first-order SME (non-commuting H and C)",
        predicted=f"relative gap to SGD: underdamped {gap_u:.3g}, first-order SME {gap_s:.3g}; "
        "the measured SGD−SDE difference matches each model's predicted difference",
        measured=f"SGD−SDE difference vs prediction: max |z| = {np.max(np.abs(z_u)):.2f} "
        f"(underdamped), {np.max(np.abs(z_s)):.2f} (SME); against a zero difference: "
        f"{np.max(np.abs(z_u + _zero_shift(under))):.2f} (underdamped), "
        f"{np.max(np.abs(z_s + _zero_shift(sme1m))):.2f} (SME); W2(SGD, SDE) "
        f"{_fmt(float(under.w2.value), float(under.w2.stderr))} vs "
        f"{_fmt(float(sme1m.w2.value), float(sme1m.w2.stderr))}",
        held=bool(gap_u < gap_s and np.max(np.abs(z_u)) <= crit_u
                  and np.max(np.abs(z_s)) <= crit_u
                  and np.max(np.abs(z_s + _zero_shift(sme1m))) > crit_u),
        test=f"closed-form gaps ordered; both measured differences within {crit_u:.2f} "
        "standard errors of their predictions, and the SME's resolved from zero (some entry "
        f"beyond {crit_u:.2f}; entrywise, Bonferroni)",
    ))
    claims.append(_slope_claim(
        "stationary_gap_linear_in_lr",
        "The stationary SGD–SDE covariance gap grows like ε", result.stationary_gap, 1.0,
    ))
    claims.append(_gap_theory_claim(result.stationary_gap))
    claims += _weak_order_claims(result.weak_sme1, result.weak_sme2)
    return claims


def _gap_theory_claim(scaling: GapScaling) -> Claim:
    gaps, stderrs = np.asarray(scaling.gaps), np.asarray(scaling.stderrs)
    theory_gaps = np.asarray(scaling.theory)
    z = (gaps - theory_gaps) / stderrs
    crit = bonferroni_z(z.size)
    return Claim(
        name="stationary_gap_matches_closed_form",
        statement="At every ε the measured stationary gap equals the closed-form "
        "‖P_sgd − P_sde‖_F/‖P_sde‖_F",
        predicted="gaps " + ", ".join(f"{g:.3g}" for g in theory_gaps),
        measured="gaps " + ", ".join(_fmt(g, e, 3) for g, e in zip(gaps, stderrs, strict=True))
        + f"; max |z| = {np.max(np.abs(z)):.2f}",
        held=bool(np.all(np.isfinite(z)) and np.max(np.abs(z)) <= crit),
        test=f"z-scores at each ε within {crit:.2f} (Bonferroni over {z.size}, α={ALPHA})",
    )


def weak_error_expansion(scaling: GapScaling) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (c₁, c₂) of gap ≈ c₁ε + c₂ε² by weighted least squares (weights
    1/stderr²), and their standard errors, inflated by √χ²_red when the scatter exceeds the
    error bars. A weak-order-1 model has c₁ ≠ 0; a weak-order-2 model has c₁ = 0."""
    lrs, gaps = np.asarray(scaling.lrs, float), np.asarray(scaling.gaps, float)
    weights = 1.0 / np.asarray(scaling.stderrs, float) ** 2
    design = np.stack([lrs, lrs**2], axis=1)
    normal = design.T @ (weights[:, None] * design)
    coefficients = np.linalg.solve(normal, design.T @ (weights * gaps))
    residuals = gaps - design @ coefficients
    reduced_chi2 = float(np.sum(weights * residuals**2) / max(lrs.size - 2, 1))
    covariance = np.linalg.inv(normal) * max(reduced_chi2, 1.0)
    return coefficients, np.sqrt(np.diag(covariance))


def _weak_order_claims(sme1: GapScaling, sme2: GapScaling) -> list[Claim]:
    crit = bonferroni_z(1)
    (a1, b1), (a1_se, _) = weak_error_expansion(sme1)
    (a2, b2), (a2_se, b2_se) = weak_error_expansion(sme2)
    ratio = np.abs(np.asarray(sme2.gaps)) / np.abs(np.asarray(sme1.gaps))
    span = f"ε ∈ [{min(sme1.lrs):g}, {max(sme1.lrs):g}]"
    return [
        Claim(
            name="sme1_weak_error_order_1",
            statement="First-order SME: the finite-horizon weak error on the double well is "
            "of order ε",
            predicted="gap = c₁ε + O(ε²) with c₁ ≠ 0; log-log slope → 1",
            measured=f"c₁ = {_fmt(a1, a1_se)}, c₂ = {b1:.3g}; slope "
            f"{_fmt(float(sme1.slope), float(sme1.slope_stderr))} over {span}",
            held=bool(abs(a1) > crit * a1_se),
            test=f"fit gap = c₁ε + c₂ε² (weighted); |c₁| > {crit:.2f}·stderr (α={ALPHA})",
        ),
        Claim(
            name="sme2_weak_error_order_2",
            statement="Second-order SME: no O(ε) weak error, and a smaller error than the "
            "first-order SME at every ε",
            predicted="gap = c₂ε² + O(ε³): c₁ = 0, c₂ ≠ 0; |gap_sme2| < |gap_sme1|",
            measured=f"c₁ = {_fmt(a2, a2_se)}, c₂ = {_fmt(b2, b2_se)}; slope "
            f"{_fmt(float(sme2.slope), float(sme2.slope_stderr))}; |gap_sme2|/|gap_sme1| = "
            + ", ".join(f"{r:.3g}" for r in ratio),
            held=bool(abs(a2) + crit * a2_se < 0.1 * abs(a1) and abs(b2) > crit * b2_se
                      and np.all(ratio < 1.0)),
            test=f"same fit; |c₁| + {crit:.2f}·stderr < 0.1·|c₁(SME1)| (an equivalence bound, "
            f"not a failure to reject), |c₂| > {crit:.2f}·stderr (α={ALPHA})",
        ),
    ]


def _zero_shift(comparison: QuadraticComparison) -> np.ndarray:
    """Add to difference z-scores to test against a zero difference instead of the closed form."""
    predicted = comparison.theory_sgd_cov - comparison.theory_sde_cov
    stderr = np.hypot(np.asarray(comparison.sgd_cov.stderr),
                      np.asarray(comparison.sde_cov.stderr))
    rows, cols = np.triu_indices(predicted.shape[0])
    return predicted[rows, cols] / stderr[rows, cols]


# --- records --------------------------------------------------------------------------------


def comparison_record(comparison: QuadraticComparison) -> dict[str, Any]:
    """``comparison.to_dict()`` plus the stationary-steps bookkeeping and the trace gap."""
    record = comparison.to_dict()
    gap, predicted = trace_gap(comparison)
    record["trace_gap"] = {"measured": float(gap.value), "stderr": float(gap.stderr),
                           "predicted": predicted}
    record["max_stable_lr"] = float(
        theory.max_stable_lr(comparison.surface.hessian, comparison.run.momentum)
    )
    return record


__all__ = [
    "QuadraticTourResult", "QuadraticTourSettings", "comparison_record",
    "covariance_difference_z", "entry_z_scores", "quadratic_claims", "run_quadratic_section",
    "stationary_comparison", "tour_double_well", "tour_quadratic", "tour_well_start",
    "trace_gap", "weak_error_expansion",
]
