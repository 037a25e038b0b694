"""Whether the metric is one function of the noise scale g across ε (or N, or m): the collapse,
tested as an equivalence (docs/theory.md §4, §7).

Per curve (default one per ε) the seed mean of the metric at each g > 0. On a common grid of
ln g over the overlap of all curves, each curve's mean (and squared standard error) is
interpolated linearly. At each grid point the *between* variance is the variance (ddof 1)
across curves of the interpolated means, the *within* variance the mean of their squared
standard errors.

- **The decision** is an equivalence: the *spread* D = √(mean between variance), the rms
  difference between curves in units of the metric, must be below a margin δ stated beside
  the claim — by default one run's seed-to-seed standard deviation of the metric (the rms
  seed-noise standard error of a curve's points times √S): curves that differ by less than
  rerunning with another seed does are one curve. The contrast against B takes the margin of
  the collapse in g (`margin`), so both answer the same question. D's standard error is the
  jackknife over seeds (each seed left out of every curve at once, so curves that share seeds
  stay correlated as in the data), and ``spread_high``/``spread_low`` are its one-sided
  Student-t bounds with S − 1 degrees of freedom at level `alpha`. "Collapsed" means
  spread_high < δ; "not collapsed" (the contrast against B) means spread_low > δ.
- **The score** mean(between)/mean(within) is ≈ 1 for curves that agree up to independent
  seed noise, but one seed drives every (ε, B) run, so curves are correlated and the score's
  null level is lower. It is calibrated by permutation: the curve labels of runs with the same
  seed and (nearly) the same g are exchangeable under collapse, so they are shuffled within
  such bins; ``permutation_mean`` is the score's mean under that null and
  ``permutation_p`` the fraction of shuffles scoring at least as high.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import stats

from .._io import json_safe
from ._b_opt import jackknife_se
from ._slices import as_columns


@dataclasses.dataclass(frozen=True)
class GCurve:
    """Seed-mean metric against the noise scale g for one curve (label = its lr, N or m)."""

    label: float
    g: np.ndarray
    means: np.ndarray
    stderrs: np.ndarray
    counts: np.ndarray


@dataclasses.dataclass(frozen=True)
class Collapse:
    """Curves of the metric against g (or B), their spread with its equivalence bounds, and the
    permutation-calibrated score (module docstring)."""

    metric: str
    by: str
    x: str
    curves: list[GCurve]
    log_g_grid: np.ndarray
    interpolated: np.ndarray  # (n_curves, n_grid)
    between_var: np.ndarray
    within_var: np.ndarray
    score: float
    rms_between: float
    rms_within: float
    overlap: tuple[float, float] | None
    n_diverged: int
    n_nonpositive_g: int
    spread_se: float
    n_seeds: int
    alpha: float
    spread_low: float
    spread_high: float
    margin: float
    run_sd: float
    permutation_mean: float
    permutation_p: float
    permutations: int

    @property
    def spread(self) -> float:
        """D, the rms between-curve difference (= `rms_between`)."""
        return self.rms_between

    @property
    def collapsed(self) -> bool:
        """Equivalence: the upper bound of the spread is below the margin."""
        return bool(self.spread_high < self.margin)

    @property
    def separated(self) -> bool:
        """The curves differ by more than the margin (lower bound above it)."""
        return bool(self.spread_low > self.margin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the score, spreads, bounds, margin, permutation null, the
        overlap range and the curves (not the interpolation grid)."""
        return json_safe({
            "metric": self.metric, "by": self.by, "x": self.x, "score": self.score,
            "rms_between": self.rms_between, "rms_within": self.rms_within,
            "spread": self.spread, "spread_se": self.spread_se, "n_seeds": self.n_seeds,
            "alpha": self.alpha, "spread_low": self.spread_low, "spread_high": self.spread_high,
            "margin": self.margin, "run_sd": self.run_sd,
            "collapsed": self.collapsed, "separated": self.separated,
            "permutation_mean": self.permutation_mean, "permutation_p": self.permutation_p,
            "permutations": self.permutations, "overlap_g": self.overlap,
            "n_diverged": self.n_diverged, "n_nonpositive_g": self.n_nonpositive_g,
            "curves": [dataclasses.asdict(c) for c in self.curves],
        })


@dataclasses.dataclass(frozen=True)
class _Rows:
    label: np.ndarray
    log_x: np.ndarray
    seed: np.ndarray
    y: np.ndarray


def _curves(rows: _Rows, keep: np.ndarray, rtol: float) -> list[GCurve]:
    curves = []
    for label in np.unique(rows.label[keep]):
        mask = keep & (rows.label == label)
        order = np.argsort(rows.log_x[mask])
        log_x, y = rows.log_x[mask][order], rows.y[mask][order]
        breaks = np.concatenate([[True], np.diff(log_x) > rtol])
        point = np.cumsum(breaks) - 1
        count = np.bincount(point).astype(float)
        mean = np.bincount(point, y) / count
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(np.bincount(point, (y - mean[point]) ** 2) / (count - 1) / count)
        curves.append(GCurve(float(label), np.exp(log_x[breaks]), mean, se, count.astype(int)))
    return curves


def _spread(curves: list[GCurve], n_grid: int):
    """(grid, interpolated, between, within, overlap) on the common range, or None."""
    usable = [c for c in curves if c.g.size >= 2]
    if len(usable) < 2:
        return None
    low = max(float(np.log(c.g[0])) for c in usable)
    high = min(float(np.log(c.g[-1])) for c in usable)
    if high <= low:
        return None
    grid = np.linspace(low, high, n_grid)
    pooled = np.nanmedian(np.concatenate([c.stderrs for c in usable]) ** 2)
    interpolated = np.array([np.interp(grid, np.log(c.g), c.means) for c in usable])
    squared_se = np.array([np.interp(grid, np.log(c.g), np.where(np.isfinite(c.stderrs),
                                                                 c.stderrs**2, pooled))
                           for c in usable])
    return (grid, interpolated, np.var(interpolated, axis=0, ddof=1), squared_se.mean(axis=0),
            (math.exp(low), math.exp(high)))


def _score(curves: list[GCurve], n_grid: int) -> float:
    found = _spread(curves, n_grid)
    if found is None:
        return math.nan
    _, _, between, within, _ = found
    return float(between.mean() / within.mean()) if within.mean() > 0 else math.inf


def collapse_in_g(table: Any, metric: str = "final_test_accuracy", *, by: str = "lr",
                  n_grid: int = 50, rtol: float = 1e-9, x: str = "noise_scale",
                  margin: float | None = None,
                  alpha: float = 0.05, permutations: int = 200, seed: int = 0) -> Collapse:
    """The metric against `x` (default g = ε(N/B − 1)/(1 − m); ``x="batch_size"`` is the
    contrast), one curve per value of `by`, with the equivalence test and the permutation-
    calibrated score of the module docstring, with the margin `margin` (default
    one run's seed-to-seed standard deviation). Diverged rows and rows with
    x ≤ 0 (B ≥ N) are dropped and counted; x values equal within relative `rtol` are pooled.
    Scores and bounds are NaN when fewer than two curves overlap."""
    cols = as_columns(table, (by, x, "seed", metric))
    diverged = (cols["diverged"].astype(bool) if "diverged" in cols
                else np.zeros(len(cols[by]), bool))
    x_all, y_all = cols[x].astype(float), cols[metric].astype(float)
    nonpositive = ~diverged & ~(x_all > 0)
    keep = ~diverged & (x_all > 0) & np.isfinite(y_all)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = _Rows(cols[by].astype(float), np.log(np.where(x_all > 0, x_all, np.nan)),
                     cols["seed"], y_all)
    curves = _curves(rows, keep, rtol)
    found = _spread(curves, n_grid)
    seeds = np.unique(rows.seed[keep])
    nan, empty = math.nan, np.zeros((0,))
    run_sd = nan if found is None else math.sqrt(found[3].mean() * seeds.size)
    margin = run_sd if margin is None else margin
    common = dict(metric=metric, by=by, x=x, curves=curves, n_diverged=int(diverged.sum()),
                  n_nonpositive_g=int(nonpositive.sum()), n_seeds=int(seeds.size), alpha=alpha,
                  margin=margin, run_sd=run_sd, permutations=permutations)
    if found is None:
        return Collapse(log_g_grid=empty, interpolated=np.zeros((0, 0)), between_var=empty,
                        within_var=empty, score=nan, rms_between=nan, rms_within=nan,
                        overlap=None, spread_se=nan, spread_low=nan, spread_high=nan,
                        permutation_mean=nan, permutation_p=nan, **common)
    grid, interpolated, between, within, overlap = found
    spread = math.sqrt(between.mean())
    leave_out = []
    for s in seeds:
        again = _spread(_curves(rows, keep & (rows.seed != s), rtol), n_grid)
        leave_out.append(nan if again is None else math.sqrt(again[2].mean()))
    spread_se = float(jackknife_se(np.array(leave_out))) if seeds.size >= 2 else nan
    t = float(stats.t.isf(alpha, seeds.size - 1)) if seeds.size >= 2 else nan
    score = float(between.mean() / within.mean()) if within.mean() > 0 else math.inf
    null = _permuted_scores(rows, keep, rtol, n_grid, permutations, seed)
    return Collapse(log_g_grid=grid, interpolated=interpolated, between_var=between,
                    within_var=within, score=score, rms_between=spread,
                    rms_within=float(np.sqrt(within.mean())), overlap=overlap,
                    spread_se=spread_se, spread_low=spread - t * spread_se,
                    spread_high=spread + t * spread_se,
                    permutation_mean=float(np.mean(null)) if null.size else nan,
                    permutation_p=float((1 + np.sum(null >= score)) / (1 + null.size)),
                    **common)


def _permuted_scores(rows: _Rows, keep: np.ndarray, rtol: float, n_grid: int,
                     permutations: int, seed: int) -> np.ndarray:
    """Scores with the curve labels shuffled among runs of the same seed in the same bin of
    ln x (bins as wide as the median spacing of the distinct ln x values)."""
    distinct = np.unique(np.round(rows.log_x[keep], 9))
    width = float(np.median(np.diff(distinct))) if distinct.size > 1 else 1.0
    bins = np.floor(np.where(keep, rows.log_x, 0.0) / width).astype(np.int64)
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(keep)
    groups = {}
    for i in index:
        groups.setdefault((rows.seed[i], bins[i]), []).append(i)
    members = [np.array(g) for g in groups.values() if len(g) > 1]
    scores = []
    for _ in range(permutations):
        label = rows.label.copy()
        for group in members:
            label[group] = label[rng.permutation(group)]
        scores.append(_score(_curves(dataclasses.replace(rows, label=label), keep, rtol),
                             n_grid))
    return np.array(scores)
