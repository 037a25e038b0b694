"""Batch-size scaling analysis (docs/theory.md §4, Smith & Le 2018): where test accuracy peaks
in the batch size B, how that optimum B_opt scales with the learning rate ε, the training-set size N
and 1/(1 − m), and whether accuracy collapses onto one curve in the noise scale
g = ε(N/B − 1)/(1 − m).

The input is a table of runs, one row per (lr, batch_size, momentum, n_train, seed), given as a
``dict[str, np.ndarray]`` of columns or any object with ``to_pydict()`` (a pyarrow Table);
pandas is not needed. Columns used: ``lr``, ``batch_size``, ``momentum``, ``n_train``, ``seed``,
``diverged``, ``noise_scale`` (collapse only) and the metric (default
``final_test_accuracy``). All logarithms are natural.

**Locating B_opt** (:func:`locate_b_opt`), per slice (ε, N, m):

1. Rows with ``diverged`` true, or a non-finite metric, are dropped and counted
   (``n_diverged``, ``n_nonfinite``); a batch size left with no run leaves the grid
   (``dropped_batch_sizes``).
2. Per grid point the seed mean ȳ_j and its standard error s_j = sd/√n_j; a missing or zero
   s_j (fewer than two seeds, or a noise-free metric) is replaced by the median positive s_j of
   the slice (weights are then uniform where no s_j is usable).
3. Around the best grid point j* = argmax ȳ_j, a window of ``n_fit`` (3–5) consecutive grid
   points (shifted inward at the grid's ends) is fitted by weighted least squares,
   ȳ ≈ c₀ + c₁x + c₂x² with x = log B and weights 1/s_j². If c₂ < 0 the estimate is the vertex
   x̂ = −c₁/(2c₂), clipped to [log B_min, log B_max] of the grid; otherwise (no curvature) it is
   x_{j*} and ``concave`` is False.
4. ``edge`` is ``"low"``/``"high"`` when j* is the first/last grid point or the vertex was
   clipped: the optimum is then not bracketed by the grid and the estimate is a bound.
5. Bootstrap over seeds: the slice's seeds are resampled with replacement (a seed brings all its
   runs across B), steps 2–3 are redone (window choice included) with the weights of the
   original data held fixed, giving replicates x̂*_r. Reported: the median and 2.5/97.5
   percentiles of B* = exp(x̂*) and ``se_log_b`` = sd(x̂*). ``se_log_b_delta`` is the
   delta-method standard error of the vertex from the weighted fit's covariance,
   var(x̂) = gᵀ (XᵀWX)⁻¹ g with g = (0, −1/(2c₂), c₁/(2c₂²)), a cross-check.

For metrics to minimise (name containing ``loss``) the same is done on −metric.

**Scaling fit** (:func:`fit_scaling`): log B_opt = a_k + s·log x, with x = ε, N or 1/(1 − m),
one intercept a_k per combination k of the two variables held fixed (the theory moves only the
intercept with them) and a common slope s, by weighted least squares with weights
1/se_log_b². The slope's interval is a bootstrap one: each replicate draws, independently per
slice, one of that slice's bootstrap replicates x̂*, refits, and the 2.5/97.5 percentiles of
the refitted slopes are the 95 % interval (slices are treated as independent; runs sharing
seeds across slices would make this interval slightly optimistic). The theory predicts s = 1.

**Collapse** (:func:`collapse_in_g`): per curve (default one per ε) the seed mean and standard
error of the metric at each g > 0. On a common grid of log g spanning the overlap of all
curves, each curve's mean and its squared standard error are interpolated linearly in log g.
At each grid point the *between* variance is the variance (ddof 1) across curves of the
interpolated means and the *within* variance the average over curves of the interpolated
squared standard errors, i.e. the variance the curve means would show from seed noise alone.
The score is mean(between)/mean(within): ≈ 1 (slightly below, because interpolation averages
noise) when the curves are one function of g up to seed noise, ≫ 1 when they are not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._io import json_safe

KEY = ("lr", "n_train", "momentum")
VARIABLES = {
    "lr": ("lr", ("n_train", "momentum")),
    "n_train": ("n_train", ("lr", "momentum")),
    "inv_one_minus_m": ("inv_one_minus_m", ("lr", "n_train")),
}


# ----------------------------------------------------------------------------- table handling


def as_columns(table: Any, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The table as a dict of 1-D numpy columns (accepts a mapping of columns or an object with
    ``to_pydict()``, e.g. a pyarrow Table); raises ValueError on missing columns or ragged
    lengths."""
    if hasattr(table, "to_pydict"):
        table = table.to_pydict()
    if not isinstance(table, Mapping):
        raise TypeError("table must be a mapping of columns or have to_pydict()")
    cols = {str(k): np.asarray(v) for k, v in table.items()}
    missing = [c for c in required if c not in cols]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths {sorted(lengths)}")
    return cols


def _maximize(metric: str, maximize: bool | None) -> bool:
    return ("loss" not in metric) if maximize is None else maximize


# ----------------------------------------------------------------------------- B_opt


@dataclasses.dataclass(frozen=True)
class BOpt:
    """The located optimum batch size of one (lr, n_train, momentum) slice (see module doc)."""

    lr: float
    n_train: int
    momentum: float
    metric: str
    maximize: bool
    b_opt: float
    log_b_opt: float
    peak_value: float
    b_median: float
    ci_low: float
    ci_high: float
    se_log_b: float
    se_log_b_delta: float
    edge: str | None
    edge_fraction: float
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
    boot_log_b: np.ndarray

    @property
    def inv_one_minus_m(self) -> float:
        """1/(1 − m), the momentum variable of the scaling fit (B_opt ∝ 1/(1 − m))."""
        return 1.0 / (1.0 - self.momentum)

    def to_dict(self, replicates: bool = False) -> dict[str, Any]:
        """JSON-ready record of the slice's optimum (non-finite → None), without the fitted curve;
        the bootstrap replicates log B* only when `replicates`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("boot_log_b")
        out.pop("fit_b")
        out.pop("fit_values")
        if replicates:
            out["boot_log_b"] = self.boot_log_b
        return json_safe(out)


def _vertices(means: np.ndarray, counts: np.ndarray, x: np.ndarray, w: np.ndarray, k: int):
    """Quadratic-vertex estimate for R replicate curves at once.

    means, counts: (R, nB) seed means (anything where counts == 0) and run counts; x: (nB,)
    log B; w: (nB,) weights; k: window length. Returns x̂ (R,), j* (R,), concave (R,),
    clipped (R,), coefficients (R, 3), window start (R,)."""
    n_b = x.size
    ok = counts > 0
    score = np.where(ok, means, -np.inf)
    best = np.argmax(score, axis=1)
    start = np.clip(best - k // 2, 0, n_b - k)
    win = start[:, None] + np.arange(k)
    xs = x[win]
    okw = np.take_along_axis(ok, win, axis=1)
    ys = np.where(okw, np.take_along_axis(np.where(ok, means, 0.0), win, axis=1), 0.0)
    ws = w[win] * okw
    design = np.stack([np.ones_like(xs), xs, xs**2], axis=-1)  # (R, k, 3)
    a = np.einsum("rki,rk,rkj->rij", design, ws, design)
    b = np.einsum("rki,rk,rk->ri", design, ws, ys)
    coef = np.einsum("rij,rj->ri", np.linalg.pinv(a), b)
    enough = okw.sum(axis=1) >= 3
    concave = enough & (coef[:, 2] < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(concave, -coef[:, 1] / (2 * coef[:, 2]), x[best])
    clipped = (vertex < x[0]) | (vertex > x[-1])
    vertex = np.clip(vertex, x[0], x[-1])
    return vertex, best, concave, clipped, coef, start


def _slice_b_opt(cols, mask, metric, sign, n_fit, n_boot, rng, key) -> BOpt:
    seeds_all = cols["seed"][mask]
    bs_all = cols["batch_size"][mask].astype(int)
    y_all = sign * cols[metric][mask].astype(float)
    div = cols["diverged"][mask].astype(bool) if "diverged" in cols else np.zeros(y_all.size, bool)
    nonfinite = ~div & ~np.isfinite(y_all)
    keep = ~div & ~nonfinite
    grid_all = np.unique(bs_all)
    grid = np.unique(bs_all[keep])
    dropped = tuple(int(b) for b in grid_all if b not in set(grid.tolist()))
    seeds = np.unique(seeds_all[keep])
    if grid.size < 1:
        raise ValueError(f"slice {key}: every run diverged or is non-finite")
    y = np.full((seeds.size, grid.size), np.nan)
    si = np.searchsorted(seeds, seeds_all[keep])
    bi = np.searchsorted(grid, bs_all[keep])
    if np.unique(si * grid.size + bi).size != si.size:
        raise ValueError(f"slice {key}: duplicate (seed, batch_size) rows")
    y[si, bi] = y_all[keep]

    ok = np.isfinite(y)
    counts = ok.sum(axis=0)
    means = np.where(ok, y, 0.0).sum(axis=0) / counts
    dev2 = np.where(ok, (y - means) ** 2, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(dev2 / (counts - 1) / counts)
    usable = np.isfinite(se) & (se > 0)
    fill = float(np.median(se[usable])) if usable.any() else 1.0
    se_w = np.where(usable, np.maximum(se, 1e-3 * fill), fill)
    w = 1.0 / se_w**2
    x = np.log(grid.astype(float))
    k = int(min(n_fit, grid.size))

    v, best, conc, clip, coef, start = _vertices(means[None], counts[None], x, w, k)
    xhat, jstar, concave = float(v[0]), int(best[0]), bool(conc[0])
    c = coef[0]
    edge = None
    if grid.size > 1 and (jstar == 0 or (clip[0] and xhat <= x[0])):
        edge = "low"
    elif grid.size > 1 and (jstar == grid.size - 1 or (clip[0] and xhat >= x[-1])):
        edge = "high"
    win = np.arange(start[0], start[0] + k)
    if concave:
        design = np.stack([np.ones(k), x[win], x[win] ** 2], axis=-1)
        cov = np.linalg.pinv(design.T @ (w[win, None] * design))
        g = np.array([0.0, -1 / (2 * c[2]), c[1] / (2 * c[2] ** 2)])
        se_delta = float(np.sqrt(max(g @ cov @ g, 0.0)))
    else:
        se_delta = math.nan

    idx = rng.integers(0, seeds.size, size=(n_boot, seeds.size))
    yb = y[idx]  # (n_boot, S, nB)
    okb = np.isfinite(yb)
    cb = okb.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mb = np.where(okb, yb, 0.0).sum(axis=1) / cb
    vb, bestb, _, clipb, _, _ = _vertices(mb, cb, x, w, k)
    edge_b = (bestb == 0) | (bestb == grid.size - 1) | clipb if grid.size > 1 else clipb
    boot_b = np.exp(vb)

    fit_x = np.linspace(x[win[0]], x[win[-1]], 50)
    fit_vals = sign * (c[0] + c[1] * fit_x + c[2] * fit_x**2)
    div_count = int(div.sum())
    return BOpt(
        lr=float(key[0]), n_train=int(key[1]), momentum=float(key[2]), metric=metric,
        maximize=sign > 0, b_opt=float(np.exp(xhat)), log_b_opt=xhat,
        peak_value=float(sign * (c[0] + c[1] * xhat + c[2] * xhat**2)) if concave
        else float(sign * means[jstar]),
        b_median=float(np.median(boot_b)), ci_low=float(np.percentile(boot_b, 2.5)),
        ci_high=float(np.percentile(boot_b, 97.5)),
        se_log_b=float(np.std(vb, ddof=1)) if n_boot > 1 else math.nan,
        se_log_b_delta=se_delta, edge=edge, edge_fraction=float(np.mean(edge_b)),
        concave=concave, n_runs=int(mask.sum()), n_diverged=div_count,
        n_nonfinite=int(nonfinite.sum()), n_seeds=int(seeds.size),
        dropped_batch_sizes=dropped, batch_sizes=grid, means=sign * means,
        stderrs=np.where(usable, se, np.nan), counts=counts,
        fit_window=tuple(int(b) for b in grid[win]), coeffs=(float(c[0]), float(c[1]),
                                                             float(c[2])),
        fit_b=np.exp(fit_x), fit_values=fit_vals, boot_log_b=vb,
    )


def locate_b_opt(table: Any, metric: str = "final_test_accuracy", *, maximize: bool | None = None,
                 n_fit: int = 5, n_boot: int = 1000, seed: int = 0) -> list[BOpt]:
    """Smooth estimate of the optimum batch size per (lr, n_train, momentum) slice, with a
    bootstrap over seeds (procedure in the module docstring).

    **Arguments:**

    - `table`: the runs (mapping of columns or a pyarrow Table).
    - `metric`: the column to optimise.
    - `maximize`: optimise upwards; default: False when the metric's name contains "loss".
    - `n_fit`: grid points in the quadratic window (3–5; fewer if the grid is smaller).
    - `n_boot`: bootstrap replicates per slice.
    - `seed`: seed of the bootstrap's generator (results are deterministic given it).

    **Returns:** one :class:`BOpt` per slice, sorted by (n_train, momentum, lr).
    """
    if not 3 <= n_fit <= 7:
        raise ValueError("n_fit must be between 3 and 7")
    cols = as_columns(table, ("lr", "batch_size", "momentum", "n_train", "seed", metric))
    sign = 1.0 if _maximize(metric, maximize) else -1.0
    rng = np.random.default_rng(seed)
    keys = sorted({(float(a), int(b), float(c)) for a, b, c in
                   zip(cols["lr"], cols["n_train"], cols["momentum"], strict=True)},
                  key=lambda t: (t[1], t[2], t[0]))
    out = []
    for key in keys:
        mask = ((cols["lr"].astype(float) == key[0]) & (cols["n_train"].astype(int) == key[1])
                & (cols["momentum"].astype(float) == key[2]))
        out.append(_slice_b_opt(cols, mask, metric, sign, n_fit, n_boot, rng, key))
    return out


# ----------------------------------------------------------------------------- scaling fit


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """log B_opt = a_group + slope·log x, fitted over slices (see module docstring)."""

    variable: str
    x: np.ndarray
    b_opt: np.ndarray
    b_low: np.ndarray
    b_high: np.ndarray
    se_log_b: np.ndarray
    group: np.ndarray  # index into group_labels, per slice
    group_labels: list[dict[str, float]]
    slope: float
    slope_se: float
    intercepts: np.ndarray
    theory_slope: float
    theory_intercepts: np.ndarray
    ci_low: float
    ci_high: float
    slope_boot_se: float
    slope_boot_median: float
    theory_in_interval: bool
    interval_width: float
    chi2: float
    dof: int
    excluded: list[dict[str, Any]]

    @property
    def z_theory(self) -> float:
        """(slope − theory)/bootstrap se."""
        return (self.slope - self.theory_slope) / self.slope_boot_se

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the fit, plus `z_theory` and the number of slices `n_slices`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["z_theory"] = self.z_theory
        out["n_slices"] = int(self.x.size)
        return json_safe(out)


def _wls(design: np.ndarray, w: np.ndarray, ys: np.ndarray):
    """WLS coefficients for each column of ys (n, R) → (p, R), and (XᵀWX)⁻¹."""
    cov = np.linalg.pinv(design.T @ (w[:, None] * design))
    return cov @ (design.T @ (w[:, None] * ys)), cov


def fit_scaling(b_opts: Sequence[BOpt], variable: str = "lr", *, exclude_edge: bool = True,
                n_boot: int = 2000, seed: int = 0, theory_slope: float = 1.0,
                se_floor: float = 1e-6) -> ScalingFit:
    """Fit log B_opt = a_k + slope·log x over slices, x = lr, n_train or 1/(1 − momentum), with
    one intercept per combination of the other two variables.

    **Arguments:**

    - `b_opts`: output of :func:`locate_b_opt` (any subset).
    - `variable`: ``"lr"``, ``"n_train"`` or ``"inv_one_minus_m"``.
    - `exclude_edge`: leave out slices whose optimum is at the grid's edge (a bound, not an
      estimate); they are listed in ``excluded``.
    - `n_boot`: bootstrap replicates of the slope; `seed`: its generator's seed.
    - `theory_slope`: the prediction (1 for B_opt ∝ εN/(1 − m)).
    - `se_floor`: lower bound on se(log B_opt), so a noise-free slice cannot take all weight.

    **Returns:** a :class:`ScalingFit`; its slope interval is the bootstrap percentile one.
    """
    if variable not in VARIABLES:
        raise ValueError(f"variable must be one of {sorted(VARIABLES)}")
    attr, others = VARIABLES[variable]
    excluded: list[dict[str, Any]] = []
    kept = []
    for b in b_opts:
        label = {"lr": b.lr, "n_train": b.n_train, "momentum": b.momentum}
        if exclude_edge and b.edge is not None:
            excluded.append({**label, "edge": b.edge,
                             "reason": f"optimum at the {b.edge} edge of the grid"})
        elif not np.isfinite(b.log_b_opt):
            excluded.append({**label, "reason": "no estimate"})
        else:
            kept.append(b)
    groups: dict[tuple, list[BOpt]] = {}
    for b in kept:
        groups.setdefault(tuple(getattr(b, o) for o in others), []).append(b)
    used: list[BOpt] = []
    gidx: list[int] = []
    labels: list[dict[str, float]] = []
    for gkey, members in groups.items():
        if len({getattr(b, attr) for b in members}) < 2:
            for b in members:
                excluded.append({"lr": b.lr, "n_train": b.n_train, "momentum": b.momentum,
                                 "reason": f"only one {variable} value with these "
                                           f"{others[0]}, {others[1]}"})
            continue
        labels.append(dict(zip(others, gkey, strict=True)))
        for b in members:
            used.append(b)
            gidx.append(len(labels) - 1)
    if not used:
        raise ValueError("no group has two or more distinct values of the variable")
    x = np.array([getattr(b, attr) for b in used], float)
    y = np.array([b.log_b_opt for b in used])
    se = np.array([b.se_log_b for b in used])
    se = np.where(np.isfinite(se), np.maximum(se, se_floor), se_floor)
    w = 1.0 / se**2
    g = np.array(gidx)
    n_g = len(labels)
    design = np.zeros((x.size, n_g + 1))
    design[np.arange(x.size), g] = 1.0
    design[:, -1] = np.log(x)
    coef, cov = _wls(design, w, y[:, None])
    coef = coef[:, 0]
    resid = y - design @ coef
    chi2 = float(np.sum(w * resid**2))
    dof = int(x.size - n_g - 1)
    # theory line: slope fixed, intercept per group = weighted mean of log B − theory·log x
    off = y - theory_slope * np.log(x)
    theory_int = np.array([np.sum(w[g == i] * off[g == i]) / np.sum(w[g == i])
                           for i in range(n_g)])

    rng = np.random.default_rng(seed)
    reps = np.empty((x.size, n_boot))
    for i, b in enumerate(used):
        pool = b.boot_log_b if b.boot_log_b.size else np.array([b.log_b_opt])
        reps[i] = pool[rng.integers(0, pool.size, n_boot)]
    slopes = _wls(design, w, reps)[0][-1]
    lo, hi = (float(v) for v in np.percentile(slopes, [2.5, 97.5]))
    return ScalingFit(
        variable=variable, x=x, b_opt=np.exp(y),
        b_low=np.array([b.ci_low for b in used]), b_high=np.array([b.ci_high for b in used]),
        se_log_b=se, group=g, group_labels=labels, slope=float(coef[-1]),
        slope_se=float(np.sqrt(cov[-1, -1])), intercepts=coef[:-1], theory_slope=theory_slope,
        theory_intercepts=theory_int, ci_low=lo, ci_high=hi,
        slope_boot_se=float(np.std(slopes, ddof=1)), slope_boot_median=float(np.median(slopes)),
        theory_in_interval=bool(lo <= theory_slope <= hi), interval_width=hi - lo, chi2=chi2,
        dof=dof, excluded=excluded,
    )


# ----------------------------------------------------------------------------- collapse in g


@dataclasses.dataclass(frozen=True)
class GCurve:
    """Seed-mean metric against the noise scale g for one curve (label = its lr)."""

    label: float
    g: np.ndarray
    means: np.ndarray
    stderrs: np.ndarray
    counts: np.ndarray


@dataclasses.dataclass(frozen=True)
class Collapse:
    """Curves of the metric against g and the collapse score (see module docstring)."""

    metric: str
    by: str
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the score, the rms between/within spreads, the overlap range of x
        and the curves (not the interpolation grid)."""
        return json_safe({
            "metric": self.metric, "by": self.by, "score": self.score,
            "rms_between": self.rms_between, "rms_within": self.rms_within,
            "overlap_g": self.overlap, "n_diverged": self.n_diverged,
            "n_nonpositive_g": self.n_nonpositive_g,
            "curves": [dataclasses.asdict(c) for c in self.curves],
        })


def collapse_in_g(table: Any, metric: str = "final_test_accuracy", *, by: str = "lr",
                  n_grid: int = 50, rtol: float = 1e-9, x: str = "noise_scale") -> Collapse:
    """Metric against g = ε(N/B − 1)/(1 − m), one curve per value of `by`, and the collapse
    score mean(between-curve variance)/mean(seed-noise variance) on the overlap in log g
    (module docstring). Diverged rows and rows with g ≤ 0 (B ≥ N) are dropped and counted;
    g values equal within relative `rtol` are pooled. The score is NaN when fewer than two
    curves overlap. `x` names the horizontal axis: the default ``"noise_scale"`` is g;
    ``x="batch_size"`` scores the same curves against B, the contrast (with ε varying, they
    should *not* collapse in B)."""
    cols = as_columns(table, (by, x, "seed", metric))
    div = cols["diverged"].astype(bool) if "diverged" in cols else np.zeros(len(cols[by]), bool)
    g_all = cols[x].astype(float)
    y_all = cols[metric].astype(float)
    nonpos = ~div & ~(g_all > 0)
    keep = ~div & (g_all > 0) & np.isfinite(y_all)
    curves: list[GCurve] = []
    for lab in np.unique(cols[by][keep]):
        m = keep & (cols[by] == lab)
        lg = np.log(g_all[m])
        order = np.argsort(lg)
        lg, yy = lg[order], y_all[m][order]
        brk = np.concatenate([[True], np.diff(lg) > rtol])
        gid = np.cumsum(brk) - 1
        n = np.bincount(gid).astype(float)
        mean = np.bincount(gid, yy) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.bincount(gid, (yy - mean[gid]) ** 2) / (n - 1)
            se = np.sqrt(var / n)
        curves.append(GCurve(label=float(lab), g=np.exp(lg[brk]), means=mean, stderrs=se,
                             counts=n.astype(int)))
    usable = [c for c in curves if c.g.size >= 2]
    nan = math.nan
    empty = np.zeros((0,))
    if len(usable) >= 2:
        lo = max(float(np.log(c.g[0])) for c in usable)
        hi = min(float(np.log(c.g[-1])) for c in usable)
    if len(usable) < 2 or hi <= lo:
        return Collapse(metric, by, curves, empty, np.zeros((0, 0)), empty, empty, nan, nan, nan,
                        None, int(div.sum()), int(nonpos.sum()))
    grid = np.linspace(lo, hi, n_grid)
    pooled = np.nanmedian(np.concatenate([c.stderrs for c in usable]) ** 2)
    interp = np.array([np.interp(grid, np.log(c.g), c.means) for c in usable])
    se2 = np.array([np.interp(grid, np.log(c.g), np.where(np.isfinite(c.stderrs),
                                                          c.stderrs**2, pooled))
                    for c in usable])
    between = np.var(interp, axis=0, ddof=1)
    within = se2.mean(axis=0)
    score = float(between.mean() / within.mean()) if within.mean() > 0 else math.inf
    return Collapse(metric, by, curves, grid, interp, between, within, score,
                    float(np.sqrt(between.mean())), float(np.sqrt(within.mean())),
                    (float(np.exp(lo)), float(np.exp(hi))), int(div.sum()), int(nonpos.sum()))


# ----------------------------------------------------------------------------- whole analysis

#: The scaling variables a fit can use, and the sweep column that varies each.
VARIED = {"lr": "lr", "n_train": "n_train", "inv_one_minus_m": "momentum"}


@dataclasses.dataclass(frozen=True)
class SweepAnalysis:
    """Everything :func:`analyse_sweep` finds in a sweep's results table."""

    metric: str
    b_opts: list[BOpt]
    fits: dict[str, ScalingFit]
    fit_errors: dict[str, str]
    collapse: Collapse
    collapse_in_b: Collapse

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the B_opt slices, the scaling fits and both collapses (g and B)."""
        return {
            "metric": self.metric,
            "b_opt": [b.to_dict() for b in self.b_opts],
            "fits": {name: fit.to_dict() for name, fit in self.fits.items()},
            "fit_errors": self.fit_errors,
            "collapse": self.collapse.to_dict(),
            "collapse_in_b": self.collapse_in_b.to_dict(),
        }


def analyse_sweep(table: Any, metric: str = "final_test_accuracy", *, n_boot: int = 1000,
                  seed: int = 0) -> SweepAnalysis:
    """B_opt per slice (:func:`locate_b_opt`), a slope fit (:func:`fit_scaling`) for every
    variable of :data:`VARIED` that the sweep varies (a fit that cannot be made, e.g. every
    slice at the grid's edge, is listed in ``fit_errors``), the collapse of the metric in g
    (:func:`collapse_in_g`, one curve per value of the first of ε, N, m that the sweep
    varies) and, as its contrast, the same score against B."""
    columns = as_columns(table)
    varied = [c for c in VARIED.values() if len(set(columns[c].tolist())) >= 2]
    by = varied[0] if varied else "lr"
    b_opts = locate_b_opt(table, metric, n_boot=n_boot, seed=seed)
    fits, fit_errors = {}, {}
    for variable, column in VARIED.items():
        if len(set(columns[column].tolist())) < 2:
            continue
        try:
            fits[variable] = fit_scaling(b_opts, variable, seed=seed)
        except ValueError as error:
            fit_errors[variable] = str(error)
    return SweepAnalysis(metric, b_opts, fits, fit_errors, collapse_in_g(table, metric, by=by),
                         collapse_in_g(table, metric, by=by, x="batch_size"))
