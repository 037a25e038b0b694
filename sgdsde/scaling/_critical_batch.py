"""The critical batch size (McCandlish et al. 2018; Zhang et al. 2019): steps to reach a target
against the batch size B with the learning rate tuned per B, and the fit of
S = S_min(1 + B_crit/B), E = S·B = E_min(1 + B/B_crit) (docs/theory.md §8, docs/toolkit.md).

- **Measured** (:func:`critical_batch_study`): SGD ensembles on a learned surface, every ε of a
  grid at every B (one compiled call per B); a path's steps to target is the first crossing of
  the target by its metric, interpolated linearly in log k between geometrically spaced
  checkpoints; a cell (B, ε) counts only when every path got there (a diverged path never
  does); S(B) is the smallest cell mean over ε, with that cell's standard error (the minimum
  of noisy means is biased low by about a standard error: stated, not corrected).
- **Predicted** (:func:`nqm_critical_batch`): the exact expected loss of heavy ball (or of an
  SDE) on the noisy quadratic model, :func:`sgdsde.theory.nqm_steps_to_target`.
- **Fit** (:func:`fit_critical_batch`): S = a + b/B is linear in 1/B, so weighted least squares
  gives S_min = a, E_min = b and B_crit = b/a. The form is an approximation, so each S(B) gets
  a variance se² + (τS)², with τ ≥ 0 the relative misfit of the form, estimated so that
  χ²/dof = 1 (τ = 0 when the standard errors already explain the scatter; a random-effects
  fit); the 95 % interval is a parametric bootstrap with those variances. Exact predictions
  have no noise: they are fitted by relative least squares (τ alone) and reported with their
  relative misfit, without an interval.

Targets that are never reached within the budget are reported as not reached; nothing is
extrapolated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import theory
from .._validation import check_choice, check_int, check_list, check_number, is_int, is_number
from ..brownian import Stream, path_keys
from ..config import check_momentum
from ..errors import ParameterRangeError
from ..sgd import kernel_momentum
from ..surfaces import METRICS, LearnedSurface, NoisyQuadratic
from ._batch import DIVERGENCE_BOUND, _group_trajectories


@dataclasses.dataclass(frozen=True)
class CriticalBatchFit:
    """S = S_min(1 + B_crit/B) fitted to the steps-to-target of the reached batch sizes;
    intervals (95 %) only for measured steps; `chi2_dof` (with the standard errors alone),
    `misfit` (τ) and `relative_rms` say how well the form fits."""

    s_min: float
    b_crit: float
    e_min: float
    b_crit_interval: tuple[float, float] | None
    s_min_interval: tuple[float, float] | None
    e_min_interval: tuple[float, float] | None
    chi2_dof: float | None
    misfit: float
    relative_rms: float
    batch_sizes: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return dataclasses.asdict(self)


def fit_critical_batch(batch_sizes: Sequence[int], steps: Sequence[float],
                       stderr: Sequence[float] | None = None, *, n_boot: int = 2000,
                       seed: int = 0) -> CriticalBatchFit:
    """Fit S(B) = S_min + E_min/B (module docstring) to the finite entries of `steps`
    (NaN = not reached, excluded); `stderr` given: random-effects weighted fit with bootstrap
    intervals."""
    sizes = np.asarray(batch_sizes, float)
    values = np.asarray(steps, float)
    keep = np.isfinite(values)
    if stderr is not None:
        errors = np.asarray(stderr, float)
        keep &= np.isfinite(errors) & (errors > 0)
    if keep.sum() < 3:
        raise ParameterRangeError("steps", values.tolist(),
                                  "reached (finite) at three or more batch sizes for a fit")
    x, y = 1.0 / sizes[keep], values[keep]
    used = tuple(int(s) for s in sizes[keep])
    if stderr is None:
        a, b = _wls(x, y, y)
        relative_rms = float(np.sqrt(np.mean(((y - a - b * x) / y) ** 2)))
        return CriticalBatchFit(a, b / a if a > 0 else math.nan, b, None, None, None, None,
                                relative_rms, relative_rms, used)
    se = errors[keep]
    dof = len(y) - 2
    chi2 = _chi2(x, y, se) / max(dof, 1)
    misfit = _misfit(x, y, se, dof)
    sigma = np.hypot(se, misfit * y)
    a, b = _wls(x, y, sigma)
    relative_rms = float(np.sqrt(np.mean(((y - a - b * x) / y) ** 2)))
    rng = np.random.default_rng(seed)
    draws = y + sigma * rng.standard_normal((n_boot, len(y)))
    params = np.array([_wls(x, draw, sigma) for draw in draws])
    valid = params[:, 0] > 0
    ratio = np.where(valid, params[:, 1] / np.where(valid, params[:, 0], 1.0), np.inf)

    def interval(samples: np.ndarray) -> tuple[float, float]:
        low, high = np.percentile(samples, [2.5, 97.5])
        return float(low), float(high)

    return CriticalBatchFit(a, b / a if a > 0 else math.nan, b, interval(ratio),
                            interval(params[:, 0]), interval(params[:, 1]), chi2, misfit,
                            relative_rms, used)


def _chi2(x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> float:
    a, b = _wls(x, y, sigma)
    return float(np.sum(((y - a - b * x) / sigma) ** 2))


def _misfit(x: np.ndarray, y: np.ndarray, se: np.ndarray, dof: int) -> float:
    """τ ≥ 0 with χ²(σ² = se² + (τy)²) = dof (bisection on log τ; χ² falls as τ grows)."""
    if dof < 1 or _chi2(x, y, se) <= dof:
        return 0.0
    low, high = 1e-8, 10.0
    for _ in range(60):
        middle = math.sqrt(low * high)
        if _chi2(x, y, np.hypot(se, middle * y)) > dof:
            low = middle
        else:
            high = middle
    return high


def _wls(x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(a, b) minimising Σ((y − a − b x)/σ)²."""
    design = np.stack([np.ones_like(x), x], axis=1) / sigma[:, None]
    return np.linalg.lstsq(design, y / sigma, rcond=None)[0]


@dataclasses.dataclass(frozen=True)
class StepsToTarget:
    """Steps to reach a target for every (B, ε) of a grid, the tuned ε per B and the fit.

    `steps` and `stderr` have shape (B, ε) (NaN: not reached in the budget, or diverged);
    `best_*` are per B (NaN where no ε got there); `lr_at_edge[j]` flags a best ε at the end of
    the grid (the grid may be too narrow there)."""

    batch_sizes: tuple[int, ...]
    lrs: tuple[float, ...]
    momentum: float
    target: float
    metric: str
    budget: tuple[int, ...]
    steps: np.ndarray
    stderr: np.ndarray | None
    fit: CriticalBatchFit | None

    @property
    def best_index(self) -> np.ndarray:
        """Index of the best ε per B (−1 where none reached)."""
        filled = np.where(np.isfinite(self.steps), self.steps, np.inf)
        return np.where(np.isfinite(filled).any(axis=1), np.argmin(filled, axis=1), -1)

    @property
    def best_steps(self) -> np.ndarray:
        """S(B): the fewest steps over ε (NaN where not reached)."""
        index = self.best_index
        rows = np.arange(len(self.batch_sizes))
        return np.where(index >= 0, self.steps[rows, index], np.nan)

    @property
    def best_stderr(self) -> np.ndarray | None:
        """The standard error of S(B) (that cell's), or None for exact predictions."""
        if self.stderr is None:
            return None
        index = self.best_index
        rows = np.arange(len(self.batch_sizes))
        return np.where(index >= 0, self.stderr[rows, index], np.nan)

    @property
    def best_lr(self) -> np.ndarray:
        """The tuned ε per B (NaN where not reached)."""
        index = self.best_index
        return np.where(index >= 0, np.asarray(self.lrs)[np.maximum(index, 0)], np.nan)

    @property
    def lr_at_edge(self) -> np.ndarray:
        """Whether the tuned ε is the first or last of the grid."""
        index = self.best_index
        return (index == 0) | (index == len(self.lrs) - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (NaN kept; the writers turn it into null)."""
        best_se = self.best_stderr
        return {
            "batch_sizes": list(self.batch_sizes), "lrs": list(self.lrs),
            "momentum": self.momentum, "target": self.target, "metric": self.metric,
            "budget": list(self.budget), "steps": self.steps.tolist(),
            "stderr": None if self.stderr is None else self.stderr.tolist(),
            "best_lr": self.best_lr.tolist(), "best_steps": self.best_steps.tolist(),
            "best_stderr": None if best_se is None else best_se.tolist(),
            "best_examples": (self.best_steps * np.asarray(self.batch_sizes)).tolist(),
            "reached": np.isfinite(self.best_steps).tolist(),
            "lr_at_edge": self.lr_at_edge.tolist(),
            "fit": None if self.fit is None else self.fit.to_dict(),
        }


def _fit_or_none(batch_sizes: Sequence[int], steps: np.ndarray,
                 stderr: np.ndarray | None) -> CriticalBatchFit | None:
    """The fit when three or more batch sizes reached the target, else None."""
    if np.isfinite(steps).sum() < 3:
        return None
    return fit_critical_batch(batch_sizes, steps, stderr)


def check_batch_sizes(batch_sizes: object, n_train: int | None = None) -> tuple[int, ...]:
    """A non-empty list of distinct integers ≥ 1 (≤ N when N is given), sorted."""
    bound = "" if n_train is None else f" <= n_train={n_train}"
    sizes = check_list("batch_sizes", batch_sizes,
                       lambda b: is_int(b) and b >= 1 and (n_train is None or b <= n_train),
                       f"integers >= 1{bound}")
    return tuple(sorted(int(b) for b in sizes))


def check_lrs(lrs: object) -> tuple[float, ...]:
    """A non-empty list of distinct finite learning rates > 0, sorted."""
    values = check_list("lrs", lrs, lambda v: is_number(v) and v > 0, "finite numbers > 0")
    return tuple(sorted(float(v) for v in values))


def nqm_lr_grid(surface: NoisyQuadratic, momentum: float, count: int = 40) -> tuple[float, ...]:
    """`count` log-spaced ε from 10⁻⁴ to 0.99 of heavy ball's stability limit
    2(1 + m)/max h (:meth:`NoisyQuadratic.max_stable_lr`)."""
    limit = surface.max_stable_lr(momentum)
    return tuple(np.geomspace(1e-4 * limit, 0.99 * limit, count).tolist())


def nqm_critical_batch(surface: NoisyQuadratic, batch_sizes: Sequence[int], *, target: float,
                       momentum: float = 0.0, lrs: Sequence[float] | None = None,
                       max_steps: int = 100_000, model: str = "sgd") -> StepsToTarget:
    """Predicted steps for E L to reach `target` on the NQM at each B (noise f = 1/B), tuned
    over the ε of `lrs` (default :func:`nqm_lr_grid`), by the exact recursion of `model`
    ("sgd": heavy ball; "sme1", "underdamped": its SDEs, to see where they predict otherwise),
    and the fit. Only the fastest ε per B is resolved (the recursion stops when it arrives);
    the other cells of ``steps`` are NaN."""
    check_choice("model", model, theory.NQM_TRANSITIONS)
    momentum = check_momentum(momentum)
    sizes = check_batch_sizes(batch_sizes)
    grid = check_lrs(list(lrs) if lrs is not None else list(nqm_lr_grid(surface, momentum)))
    check_int("max_steps", max_steps)
    start = float(surface.loss(surface.initial_point()))
    check_number("target", target, above=0.0, below=start)
    h, c, theta0 = surface.curvatures, surface.noise_variances, surface.initial_point()
    transition, noise = theory.NQM_TRANSITIONS[model](h, jnp.asarray(grid, h.dtype), momentum)
    rows = []
    for size in sizes:
        arrived = np.asarray(_nqm_arrivals(transition, noise, h, c, theta0, 1.0 / size,
                                           target, max_steps, first_only=True))
        rows.append(np.where(arrived >= 0, arrived, np.nan).astype(float))
    steps = np.stack(rows)
    best = StepsToTarget(sizes, grid, momentum, float(target), "expected_loss",
                         (max_steps,) * len(sizes), steps, None, None)
    return dataclasses.replace(best, fit=_fit_or_none(sizes, best.best_steps, None))


_nqm_arrivals = jax.jit(theory.nqm_steps_to_target, static_argnames=("max_steps", "first_only"))


def critical_batch_study(
    surface: LearnedSurface, batch_sizes: Sequence[int], lrs: Sequence[float], *,
    target: float, metric: str = "train_loss", max_steps: int, max_examples: int | None = None,
    paths: int = 4, momentum: float = 0.0, replacement: bool = False, checkpoints: int = 32,
    seed: int = 0,
) -> StepsToTarget:
    """Measured steps for `metric` to reach `target` (≤ for a loss, ≥ for an accuracy) on a
    learned surface, for every B and ε, with `paths` SGD paths per cell (minibatch streams of
    ``seed``, one initialisation), within min(`max_steps`, ⌈`max_examples`/B⌉) updates, and
    the fit of S(B) (module docstring)."""
    check_choice("metric", metric, METRICS)
    sizes = check_batch_sizes(batch_sizes, surface.n_train)
    grid = check_lrs(lrs)
    check_number("target", target)
    momentum = check_momentum(momentum)
    check_int("max_steps", max_steps)
    check_int("max_examples", max_examples, optional=True)
    check_int("paths", paths, 2)
    check_int("checkpoints", checkpoints, 4)
    lower = "loss" in metric
    dtype = surface.theta_init.dtype
    runs = len(grid) * paths
    theta0 = jnp.broadcast_to(surface.initial_point(), (runs, surface.dim))
    lr = jnp.repeat(jnp.asarray(grid, dtype), paths)
    keys = jnp.tile(path_keys(seed, paths, Stream.MINIBATCH), len(grid))
    steps, errors, budget = [], [], []
    for size in sizes:
        limit = max_steps if max_examples is None else min(max_steps,
                                                           -(-max_examples // size))
        save = _geometric_steps(limit, checkpoints)
        theta, diverged = _group_trajectories(
            surface, theta0, lr, kernel_momentum([momentum] * runs, dtype), keys,
            jnp.asarray(save, jnp.int32), batch=(size, surface.n_train, replacement),
            bound=DIVERGENCE_BOUND)
        values = np.asarray(surface.metrics_of(theta)[metric], np.float64)
        crossing = _first_crossing(np.asarray(save, float), values, float(target), lower)
        crossing[np.asarray(diverged)] = np.nan
        per_cell = crossing.reshape(len(grid), paths)
        complete = np.isfinite(per_cell).all(axis=1)
        steps.append(np.where(complete, per_cell.mean(axis=1), np.nan))
        errors.append(np.where(complete, per_cell.std(axis=1, ddof=1) / math.sqrt(paths),
                               np.nan))
        budget.append(limit)
    steps_arr, errors_arr = np.stack(steps), np.stack(errors)
    result = StepsToTarget(sizes, grid, momentum, float(target), metric, tuple(budget),
                           steps_arr, errors_arr, None)
    return dataclasses.replace(result, fit=_fit_or_none(sizes, result.best_steps,
                                                        result.best_stderr))


def _geometric_steps(limit: int, count: int) -> tuple[int, ...]:
    """0 and about `count` geometrically spaced steps from 1 to `limit` (distinct, sorted)."""
    return tuple(sorted({0, *np.unique(np.geomspace(1, limit, count).round().astype(int))}))


def _first_crossing(steps: np.ndarray, values: np.ndarray, target: float,
                    lower: bool) -> np.ndarray:
    """Per row of `values` (runs, checkpoints), the first step at which the metric reaches
    `target`, interpolated linearly in log k between the bracketing checkpoints (k = 0 counts
    as reached at 0); NaN when never reached or non-finite before reaching."""
    signed = (values - target) if lower else (target - values)  # ≤ 0 means reached
    out = np.full(values.shape[0], np.nan)
    logs = np.log(np.maximum(steps, 1.0))
    for row, series in enumerate(signed):
        reached = np.flatnonzero(series <= 0)
        if reached.size == 0:
            continue
        j = reached[0]
        if j == 0 or not np.all(np.isfinite(series[:j + 1])):
            out[row] = steps[j] if j == 0 else np.nan
            continue
        before, after = series[j - 1], series[j]
        weight = before / (before - after)
        out[row] = math.exp(logs[j - 1] + weight * (logs[j] - logs[j - 1]))
    return out
