"""The batch-size laws fitted to the slices' B_opt, with calibrated intervals and the exact
prediction (docs/theory.md §4, §7).

**Exact prediction.** At one noise scale g_opt shared by all slices, g = ε(N/B − 1)/(1 − m)
gives B_opt = εN/(ε + g_opt(1 − m)). :func:`fit_g_opt` fits ln g_opt by least squares of
ln B_opt against that curve, slice by slice, and tests the fit: the statistic
Q = Σ_i ((ln B̂_i − ln B_i(ĝ))/se_i)² is referred to its distribution under the law, simulated
from synthetic sweeps whose slices have their peaks moved onto the fitted curve and whose noise
is the sweep's own (:mod:`sgdsde.scaling._noise`). That Monte Carlo p-value is honest where a χ²
would not be: the se_i come from a few seeds and the slices share them.

**The laws.** :func:`fit_scaling` fits ln B_opt = a_k + s·ln x for x = ε, N or 1/(1 − m), one
intercept per combination k of the variables held fixed, by unweighted least squares (weights
from a few seeds' standard errors would let one slice dominate). Its interval is the jackknife
over seeds — each seed left out of every slice at once, which keeps the correlation between
slices that share seeds — with Student-t quantiles of S − 1 degrees of freedom. The slope is
reported beside the *predicted* slope: the same fit applied to the exact curve at ĝ_opt (below
1 for ε and 1/(1 − m), exactly 1 for N); "slope 1" is only the B ≪ N limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import theory
from .._io import json_safe
from ._b_opt import BOpt, jackknife_se, student_t
from ._noise import estimate_values, noise_free_log_b, shifted, sweep_noise, synthetic_values

#: Scaling variable → (the BOpt attribute, the two attributes held fixed within a group).
VARIABLES = {
    "lr": ("lr", ("n_train", "momentum")),
    "n_train": ("n_train", ("lr", "momentum")),
    "inv_one_minus_m": ("inv_one_minus_m", ("lr", "n_train")),
}
_LOG_G_GRID = np.linspace(np.log(1e-3), np.log(1e6), 2401)


def predicted_log_b(lr: np.ndarray, n_train: np.ndarray, momentum: np.ndarray,
                    log_g: np.ndarray | float) -> np.ndarray:
    """ln B_opt = ln(εN/(ε + g(1 − m))) at ln g (broadcast: `log_g` (..., 1) against slices)."""
    return np.log(theory.optimal_batch_size(lr, np.exp(log_g), n_train, momentum))


def _slice_arrays(b_opts: Sequence[BOpt]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.array([b.lr for b in b_opts]), np.array([b.n_train for b in b_opts], float),
            np.array([b.momentum for b in b_opts]))


def fit_log_g(log_b: np.ndarray, lr: np.ndarray, n_train: np.ndarray,
              momentum: np.ndarray) -> np.ndarray:
    """Least-squares ln g_opt for each row of `log_b` (..., K): a grid search over
    g ∈ [1e-3, 1e6] refined by a parabola through the best grid point and its neighbours."""
    grid = _LOG_G_GRID
    curves = predicted_log_b(lr, n_train, momentum, grid[:, None])  # (G, K)
    loss = np.sum((log_b[..., None, :] - curves) ** 2, axis=-1)  # (..., G)
    best = np.clip(np.argmin(loss, axis=-1), 1, grid.size - 2)
    left, mid, right = (np.take_along_axis(loss, (best + k)[..., None], -1)[..., 0]
                        for k in (-1, 0, 1))
    curvature = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature > 0, 0.5 * (left - right) / curvature, 0.0)
    return grid[best] + np.clip(offset, -1, 1) * (grid[1] - grid[0])


def leave_one_seed_out(b_opts: Sequence[BOpt]) -> tuple[np.ndarray, np.ndarray]:
    """The union of the slices' seeds and, per seed, every slice's ln B_opt with that seed
    left out (the slice's own estimate where it has no run of that seed), shape (U, K)."""
    seeds = np.unique(np.concatenate([b.seeds for b in b_opts]))
    matrix = np.empty((seeds.size, len(b_opts)))
    for k, b in enumerate(b_opts):
        matrix[:, k] = b.log_b_opt
        matrix[np.searchsorted(seeds, b.seeds), k] = b.jackknife_log_b
    return seeds, matrix


@dataclasses.dataclass(frozen=True)
class GOptFit:
    """One g_opt for every usable slice: its jackknife-t interval and the goodness of fit of
    B_opt = εN/(ε + g_opt(1 − m)) (module docstring)."""

    g_opt: float
    ci_low: float
    ci_high: float
    se_log_g: float
    confidence: float
    n_seeds: int
    statistic: float
    dof: int
    p_value: float
    replicates: int
    slices: list[dict[str, float]]
    excluded: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of every field."""
        return json_safe(dataclasses.asdict(self))


def _usable(b_opts: Sequence[BOpt]) -> tuple[list[BOpt], list[dict[str, Any]]]:
    used, excluded = [], []
    for b in b_opts:
        if b.usable:
            used.append(b)
        else:
            excluded.append({"lr": b.lr, "n_train": b.n_train, "momentum": b.momentum,
                             "reason": b.status})
    return used, excluded


def fit_g_opt(b_opts: Sequence[BOpt], *, replicates: int = 200, seed: int = 0,
              n_fit: int = 5) -> GOptFit:
    """Fit one g_opt to the usable slices and test the exact prediction (module docstring);
    `replicates` synthetic sweeps give the Monte Carlo p-value (`seed` seeds them). Raises
    ValueError when no slice is usable."""
    used, excluded = _usable(b_opts)
    if not used:
        raise ValueError("no slice has a located B_opt (every slice is at the grid's edge, "
                         "not concave, diverged or short of batch sizes)")
    lr, n_train, momentum = _slice_arrays(used)
    log_b = np.array([b.log_b_opt for b in used])
    se = np.array([b.se_log_b for b in used])
    seeds, loo = leave_one_seed_out(used)
    log_g = float(fit_log_g(log_b, lr, n_train, momentum))
    se_g = float(jackknife_se(fit_log_g(loo, lr, n_train, momentum)))
    confidence = used[0].confidence
    half = student_t(confidence, seeds.size - 1) * se_g
    predicted = predicted_log_b(lr, n_train, momentum, log_g)
    null, spread = _null_statistics(used, predicted, replicates, seed, n_fit)
    statistic = float(np.sum(((log_b - predicted) / spread) ** 2))
    p_value = float((1 + np.sum(null >= statistic)) / (1 + null.size))
    rows = [{"lr": b.lr, "n_train": b.n_train, "momentum": b.momentum, "log_b": float(y),
             "se_log_b": float(s), "simulated_sd": float(d), "predicted_log_b": float(p),
             "z": float((y - p) / d)}
            for b, y, s, d, p in zip(used, log_b, se, spread, predicted, strict=True)]
    return GOptFit(g_opt=math.exp(log_g), ci_low=math.exp(log_g - half),
                   ci_high=math.exp(log_g + half), se_log_g=se_g, confidence=confidence,
                   n_seeds=int(seeds.size), statistic=statistic, dof=len(used) - 1,
                   p_value=p_value, replicates=int(null.size), slices=rows, excluded=excluded)


def _null_statistics(used: Sequence[BOpt], predicted: np.ndarray, replicates: int, seed: int,
                     n_fit: int) -> tuple[np.ndarray, np.ndarray]:
    """Q of synthetic sweeps obeying the law (each slice's seed-mean curve and seed patterns
    moved so that its noise-free estimate sits on the fitted curve), and the per-slice spread σ
    of their estimates that weights it."""
    noise = sweep_noise(used)
    noise = shifted(noise, [p - noise_free_log_b(t, x, n_fit) for t, x, p in
                            zip(noise.truths, noise.grids, predicted, strict=True)])
    n_seeds = int(np.median([b.seeds.size for b in used]))
    rng = np.random.default_rng(seed)
    values = synthetic_values(noise, noise.truths, n_seeds, replicates, rng)
    estimates = [estimate_values(v, x, n_fit) for v, x in zip(values, noise.grids, strict=True)]
    log_b = np.stack([e[0] for e in estimates], axis=-1)  # (R, K)
    lr, n_train, momentum = _slice_arrays(used)
    log_g = fit_log_g(log_b, lr, n_train, momentum)
    fitted = predicted_log_b(lr, n_train, momentum, log_g[:, None])
    spread = log_b.std(axis=0, ddof=1)
    return np.sum(((log_b - fitted) / spread) ** 2, axis=-1), spread


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """ln B_opt = a_group + slope·ln x over the usable slices (module docstring)."""

    variable: str
    x: np.ndarray
    b_opt: np.ndarray
    b_low: np.ndarray
    b_high: np.ndarray
    se_log_b: np.ndarray
    group: np.ndarray  # index into group_labels, per slice
    group_labels: list[dict[str, float]]
    slope: float
    ci_low: float
    ci_high: float
    slope_se: float
    confidence: float
    n_seeds: int
    intercepts: np.ndarray
    predicted_slope: float
    predicted_intercepts: np.ndarray
    predicted_in_interval: bool
    theory_slope: float
    theory_in_interval: bool
    interval_width: float
    excluded: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the fit, plus the number of slices `n_slices`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["n_slices"] = int(self.x.size)
        return json_safe(out)


def law_design(kept: Sequence[BOpt], variable: str
               ) -> tuple[list[BOpt], np.ndarray, list[dict[str, float]], list[dict[str, Any]]]:
    """The slices of `kept` that enter the fit of `variable` (groups of the other two variables
    with at least two values of it), their group indices, the groups' labels and the slices
    left out alone in their group. Raises ValueError for an unknown variable or no group."""
    if variable not in VARIABLES:
        raise ValueError(f"variable must be one of {sorted(VARIABLES)}")
    attr, others = VARIABLES[variable]
    groups: dict[tuple, list[BOpt]] = {}
    for b in kept:
        groups.setdefault(tuple(getattr(b, o) for o in others), []).append(b)
    used, index, labels, lone = [], [], [], []
    for key, members in groups.items():
        if len({getattr(b, attr) for b in members}) < 2:
            lone += [{"lr": b.lr, "n_train": b.n_train, "momentum": b.momentum,
                      "reason": f"only one {variable} with these {others[0]}, {others[1]}"}
                     for b in members]
            continue
        labels.append(dict(zip(others, key, strict=True)))
        used += members
        index += [len(labels) - 1] * len(members)
    if not used:
        raise ValueError("no group has two or more distinct values of the variable")
    return used, np.array(index), labels, lone


def design_matrix(used: Sequence[BOpt], group: np.ndarray, n_groups: int,
                  variable: str) -> np.ndarray:
    """Columns: one indicator per group, then ln x."""
    x = np.array([getattr(b, VARIABLES[variable][0]) for b in used], float)
    design = np.zeros((x.size, n_groups + 1))
    design[np.arange(x.size), group] = 1.0
    design[:, -1] = np.log(x)
    return design


def fit_scaling(b_opts: Sequence[BOpt], variable: str = "lr", *,
                g_opt: float | None = None) -> ScalingFit:
    """Fit ln B_opt = a_k + slope·ln x over the usable slices, x = lr, n_train or
    1/(1 − momentum), one intercept per combination of the other two variables, with the
    jackknife-t interval; with `g_opt` the predicted slope is the same fit to the exact curve
    εN/(ε + g_opt(1 − m)). Slices not usable, or alone in their group, are listed in
    ``excluded``. Raises ValueError when no group has two values of the variable."""
    kept, excluded = _usable(b_opts)
    used, group, labels, lone = law_design(kept, variable)
    excluded += lone
    x = np.array([getattr(b, VARIABLES[variable][0]) for b in used], float)
    solve = np.linalg.pinv(design_matrix(used, group, len(labels), variable))
    log_b = np.array([b.log_b_opt for b in used])
    coefficients = solve @ log_b
    seeds, loo = leave_one_seed_out(used)
    slope_se = float(jackknife_se((loo @ solve.T)[:, -1]))
    half = student_t(used[0].confidence, seeds.size - 1) * slope_se
    low, high = coefficients[-1] - half, coefficients[-1] + half
    if g_opt is None:
        predicted = np.full(len(labels) + 1, np.nan)
    else:
        predicted = solve @ predicted_log_b(*_slice_arrays(used), math.log(g_opt))
    return ScalingFit(
        variable=variable, x=x, b_opt=np.exp(log_b),
        b_low=np.array([b.ci_low for b in used]), b_high=np.array([b.ci_high for b in used]),
        se_log_b=np.array([b.se_log_b for b in used]), group=group, group_labels=labels,
        slope=float(coefficients[-1]), ci_low=float(low), ci_high=float(high),
        slope_se=slope_se, confidence=used[0].confidence, n_seeds=int(seeds.size),
        intercepts=coefficients[:-1], predicted_slope=float(predicted[-1]),
        predicted_intercepts=predicted[:-1],
        predicted_in_interval=bool(low <= predicted[-1] <= high), theory_slope=1.0,
        theory_in_interval=bool(low <= 1.0 <= high), interval_width=float(high - low),
        excluded=excluded)
