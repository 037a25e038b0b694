"""The test-metric-optimal batch size B_opt of each (ε, N, m) slice, with a calibrated interval.

**Estimate.** Per batch size the seed mean ȳ_j of the metric; around the best grid point
j* = argmax ȳ_j a window of `n_fit` (3–5) consecutive grid points (shifted inward at the grid's
ends) is fitted by least squares, ȳ ≈ c₀ + c₁x + c₂x², x = ln B. If c₂ < 0 the estimate is the
vertex x̂ = −c₁/(2c₂), clipped to the grid; otherwise the best grid point.

**Interval (few seeds).** A percentile bootstrap over 3–4 seeds under-covers badly (≈ 73 % for a
nominal 95 % with 3 seeds; docs/theory.md §7). Here the standard error is the jackknife over
seeds — x̂ recomputed with each seed left out, window choice included (so the interval also
carries the variability of where the window sits), se² = (S−1)/S·Σ(x̂₍₋ₛ₎ − x̄₍.₎)² — and the
interval is x̂ ± t_{S−1}·se, Student-t with S − 1 degrees of freedom, which accounts for the
variance being estimated from S seeds. Its coverage at the seed count used, with noise shaped
like the sweep's own, is measured by :func:`sgdsde.scaling.interval_coverage`. The fit is
unweighted: per-point standard errors from a few seeds are too noisy to weight by.

**Status.** A slice whose optimum cannot be located is reported, never fitted silently:
``all_diverged``, ``too_few_batch_sizes`` (fewer than 3 with a finite run), ``edge_low`` /
``edge_high`` (the best point at the grid's end or the vertex clipped there: a bound, not an
estimate), ``not_concave`` (no curvature in the window) and ``too_few_seeds`` (fewer than 2:
no interval). Only ``ok`` slices enter the scaling fits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import stats

from .._io import json_safe
from ._slices import Slice, slices_of

STATUSES = ("ok", "all_diverged", "too_few_batch_sizes", "edge_low", "edge_high", "not_concave",
            "too_few_seeds")


def seed_means(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means over seeds: `values` (..., S, nB) with NaN for missing, `weights`
    (R, S) of 0/1 → means (..., R, nB) and counts (..., R, nB)."""
    finite = np.isfinite(values)
    counts = np.einsum("rs,...sj->...rj", weights, finite.astype(float))
    sums = np.einsum("rs,...sj->...rj", weights, np.where(finite, values, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums / counts, counts


def jackknife_weights(n_seeds: int) -> np.ndarray:
    """Rows of seed weights: all seeds, then each seed left out in turn, shape (S + 1, S)."""
    return np.vstack([np.ones(n_seeds), 1.0 - np.eye(n_seeds)])


@dataclasses.dataclass(frozen=True)
class VertexFit:
    """The quadratic-vertex estimate for R curves at once (arrays with leading axis R)."""

    log_b: np.ndarray
    best: np.ndarray
    concave: np.ndarray
    clipped: np.ndarray
    coeffs: np.ndarray
    start: np.ndarray


def vertex_fit(means: np.ndarray, counts: np.ndarray, x: np.ndarray, window: int) -> VertexFit:
    """The estimate of the module docstring for each row of `means` (R, nB) (anything where
    `counts` is 0), on the grid x = ln B (nB,), with a window of `window` points around each
    row's best point."""
    ok = counts > 0
    best = np.argmax(np.where(ok, means, -np.inf), axis=1)
    start = np.clip(best - window // 2, 0, x.size - window)
    columns = start[:, None] + np.arange(window)
    xs = x[columns]
    inside = np.take_along_axis(ok, columns, axis=1)
    ys = np.where(inside, np.take_along_axis(np.where(ok, means, 0.0), columns, axis=1), 0.0)
    design = np.stack([np.ones_like(xs), xs, xs**2], axis=-1) * inside[..., None]
    coeffs = np.einsum("rij,rj->ri", np.linalg.pinv(design), ys)
    concave = (inside.sum(axis=1) >= 3) & (coeffs[:, 2] < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(concave, -coeffs[:, 1] / (2 * coeffs[:, 2]), x[best])
    clipped = (vertex < x[0]) | (vertex > x[-1])
    return VertexFit(np.clip(vertex, x[0], x[-1]), best, concave, clipped, coeffs, start)


def student_t(confidence: float, dof: int) -> float:
    """Two-sided Student-t critical value (NaN for dof < 1)."""
    return float(stats.t.isf((1 - confidence) / 2, dof)) if dof >= 1 else math.nan


def jackknife_se(leave_out: np.ndarray) -> np.ndarray:
    """Jackknife standard error from leave-one-out estimates along the last axis:
    √((n−1)/n·Σ(θ̂₍₋ᵢ₎ − θ̄₍.₎)²)."""
    count = leave_out.shape[-1]
    spread = leave_out - leave_out.mean(axis=-1, keepdims=True)
    return np.sqrt((count - 1) / count * np.sum(spread**2, axis=-1))


@dataclasses.dataclass(frozen=True)
class BOpt:
    """The located optimum batch size of one (lr, n_train, momentum) slice (module docstring).

    `log_b_opt` and its jackknife standard error `se_log_b`; `ci_low`/`ci_high` are the
    Student-t interval of B_opt at `confidence`; `jackknife_log_b[s]` is the estimate with seed
    `seeds[s]` left out. `means`, `stderrs`, `counts` describe the seed-mean curve against
    `batch_sizes` (in the metric's own sign); `fit_b`, `fit_values` the fitted quadratic."""

    lr: float
    n_train: int
    momentum: float
    metric: str
    maximize: bool
    status: str
    b_opt: float
    log_b_opt: float
    se_log_b: float
    ci_low: float
    ci_high: float
    confidence: float
    peak_value: float
    edge: str | None
    concave: bool
    n_runs: int
    n_diverged: int
    n_nonfinite: int
    n_seeds: int
    dropped_batch_sizes: tuple[int, ...]
    batch_sizes: np.ndarray
    means: np.ndarray
    stderrs: np.ndarray
    counts: np.ndarray
    fit_window: tuple[int, ...]
    coeffs: tuple[float, float, float]
    fit_b: np.ndarray
    fit_values: np.ndarray
    seeds: np.ndarray
    jackknife_log_b: np.ndarray
    values: np.ndarray

    @property
    def inv_one_minus_m(self) -> float:
        """1/(1 − m), the momentum variable of the scaling fit (B_opt ∝ 1/(1 − m))."""
        return 1.0 / (1.0 - self.momentum)

    @property
    def usable(self) -> bool:
        """Whether the slice enters the scaling fits (status ``ok``)."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the slice's optimum (non-finite → None), without the fitted curve
        and the per-seed values."""
        skip = {"fit_b", "fit_values", "values"}
        return json_safe({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                          if f.name not in skip})


def _status(data: Slice, fit: VertexFit) -> str:
    if data.batch_sizes.size == 0:
        return "all_diverged"
    if data.batch_sizes.size < 3:
        return "too_few_batch_sizes"
    x, best = data.log_b, int(fit.best[0])
    if best == 0 or (fit.clipped[0] and fit.log_b[0] <= x[0]):
        return "edge_low"
    if best == x.size - 1 or (fit.clipped[0] and fit.log_b[0] >= x[-1]):
        return "edge_high"
    if not fit.concave[0]:
        return "not_concave"
    return "ok" if data.seeds.size >= 2 else "too_few_seeds"


def estimate_slice(data: Slice, *, n_fit: int = 5, confidence: float = 0.95) -> BOpt:
    """The :class:`BOpt` of one slice (module docstring)."""
    nan = math.nan
    sign = 1.0 if data.maximize else -1.0
    n_seeds, n_b = data.values.shape
    common = dict(lr=data.lr, n_train=data.n_train, momentum=data.momentum, metric=data.metric,
                  maximize=data.maximize, confidence=confidence, n_runs=data.n_runs,
                  n_diverged=data.n_diverged, n_nonfinite=data.n_nonfinite, n_seeds=n_seeds,
                  dropped_batch_sizes=data.dropped_batch_sizes, batch_sizes=data.batch_sizes,
                  seeds=data.seeds, values=data.values)
    if n_b == 0:
        empty = np.zeros(0)
        return BOpt(status="all_diverged", b_opt=nan, log_b_opt=nan, se_log_b=nan, ci_low=nan,
                    ci_high=nan, peak_value=nan, edge=None, concave=False, means=empty,
                    stderrs=empty, counts=empty, fit_window=(), coeffs=(nan, nan, nan),
                    fit_b=empty, fit_values=empty, jackknife_log_b=np.full(n_seeds, nan),
                    **common)
    means, counts = seed_means(data.values, jackknife_weights(n_seeds))
    x = data.log_b
    fit = vertex_fit(means, counts, x, int(min(n_fit, n_b)))
    status = _status(data, fit)
    log_b, loo = float(fit.log_b[0]), fit.log_b[1:]
    se = float(jackknife_se(loo)) if n_seeds >= 2 else nan
    half = student_t(confidence, n_seeds - 1) * se
    c = fit.coeffs[0]
    window = np.arange(fit.start[0], fit.start[0] + min(n_fit, n_b))
    fit_x = np.linspace(x[window[0]], x[window[-1]], 50)
    finite = np.isfinite(data.values)
    deviations = np.where(finite, data.values - means[0], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(np.sum(deviations**2, axis=0) / (counts[0] - 1) / counts[0])
    peak = c[0] + c[1] * log_b + c[2] * log_b**2 if fit.concave[0] else means[0, fit.best[0]]
    return BOpt(
        status=status, b_opt=math.exp(log_b), log_b_opt=log_b, se_log_b=se,
        ci_low=math.exp(log_b - half), ci_high=math.exp(log_b + half),
        peak_value=float(sign * peak), edge=status[5:] if status.startswith("edge") else None,
        concave=bool(fit.concave[0]), means=sign * means[0],
        stderrs=np.where(counts[0] >= 2, spread, nan), counts=counts[0].astype(int),
        fit_window=tuple(int(b) for b in data.batch_sizes[window]),
        coeffs=(float(c[0]), float(c[1]), float(c[2])), fit_b=np.exp(fit_x),
        fit_values=sign * (c[0] + c[1] * fit_x + c[2] * fit_x**2), jackknife_log_b=loo,
        **common)


def locate_b_opt(table: Any, metric: str = "final_test_accuracy", *,
                 maximize: bool | None = None, n_fit: int = 5,
                 confidence: float = 0.95) -> list[BOpt]:
    """B_opt per (lr, n_train, momentum) slice with its jackknife-t interval (module docstring).

    **Arguments:**

    - `table`: the runs (mapping of columns or a pyarrow Table).
    - `metric`: the column to optimise.
    - `maximize`: optimise upwards; default: False when the metric's name contains "loss".
    - `n_fit`: grid points in the quadratic window (3–7; fewer if the grid is smaller).
    - `confidence`: the intervals' nominal coverage.

    **Returns:** one :class:`BOpt` per slice, sorted by (n_train, momentum, lr).
    """
    if not 3 <= n_fit <= 7:
        raise ValueError("n_fit must be between 3 and 7")
    return [estimate_slice(s, n_fit=n_fit, confidence=confidence)
            for s in slices_of(table, metric, maximize=maximize)]
