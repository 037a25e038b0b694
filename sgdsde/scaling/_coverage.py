"""How often the scaling intervals contain the truth, measured by simulation (docs/theory.md §7).

An interval's nominal level is a promise only if its coverage was measured at the seed count
actually used, with noise like the data's. :func:`interval_coverage` builds synthetic sweeps
from a real one (:mod:`sgdsde.scaling._noise`: the truth is the real seed-mean curve of every
slice, the noise Gaussian with the real seeds' covariance across slices and batch sizes), runs
the same estimators
on each, and counts how often the per-slice B_opt intervals, the slope intervals of every law
the sweep can fit and the g_opt interval contain what the estimators give on the noise-free
truth. Each rate comes with its binomial standard error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._io import json_safe
from ._b_opt import BOpt, jackknife_se, student_t
from ._laws import (
    VARIABLES,
    _slice_arrays,
    _usable,
    design_matrix,
    fit_log_g,
    law_design,
)
from ._noise import estimate_values, noise_free_log_b, sweep_noise, synthetic_values


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Measured coverage of the intervals at `n_seeds` seeds and nominal level `nominal`:
    per target (``"b_opt"`` pooled over slices, ``"slope_<variable>"``, ``"g_opt"``) the
    rate, its standard error over replicates and the number of intervals."""

    nominal: float
    n_seeds: int
    replicates: int
    rates: dict[str, dict[str, float]]

    def within(self, points: float = 0.02) -> dict[str, bool]:
        """Per target: whether the measured rate is within `points` of nominal."""
        return {name: abs(r["rate"] - self.nominal) <= points for name, r in self.rates.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record, with the noise model named."""
        return json_safe({**dataclasses.asdict(self), "noise": "Gaussian with the sweep's own "
                          "seed covariance across slices and batch sizes"})


def _rate(hits: np.ndarray) -> dict[str, float]:
    """Coverage of hits (R,) or (R, K): the mean, and its standard error with replicates as the
    independent units (the K slices of one synthetic sweep share its seeds)."""
    per_replicate = hits.reshape(hits.shape[0], -1).mean(axis=1)
    count = per_replicate.size
    rate = float(per_replicate.mean()) if count else math.nan
    se = float(per_replicate.std(ddof=1) / math.sqrt(count)) if count > 1 else math.nan
    return {"rate": rate, "stderr": se, "intervals": int(hits.size)}


def interval_coverage(b_opts: Sequence[BOpt], *, replicates: int = 200, seed: int = 0,
                      n_seeds: int | None = None, n_fit: int = 5) -> Coverage:
    """The measured coverage (module docstring) of the intervals of :func:`locate_b_opt`,
    :func:`fit_scaling` (every variable with two or more values in some group) and
    :func:`fit_g_opt`, at `n_seeds` seeds (default: the sweep's). Raises ValueError when no
    slice is usable."""
    used, _ = _usable(b_opts)
    if not used:
        raise ValueError("no slice has a located B_opt to measure coverage on")
    noise = sweep_noise(used)
    seeds = n_seeds or int(np.median([b.seeds.size for b in used]))
    truth = np.array([noise_free_log_b(t, x, n_fit)
                      for t, x in zip(noise.truths, noise.grids, strict=True)])
    values = synthetic_values(noise, noise.truths, seeds, replicates,
                              np.random.default_rng(seed))
    estimates = [estimate_values(v, x, n_fit) for v, x in zip(values, noise.grids, strict=True)]
    log_b = np.stack([e[0] for e in estimates], axis=-1)  # (R, K)
    loo = np.stack([e[1] for e in estimates], axis=-1)  # (R, S, K)
    t = student_t(used[0].confidence, seeds - 1)
    se = jackknife_se(np.moveaxis(loo, 1, -1))
    rates = {"b_opt": _rate(np.abs(log_b - truth) <= t * se)}
    for variable in VARIABLES:
        try:
            members, group, labels, _ = law_design(used, variable)
        except ValueError:
            continue
        index = [next(k for k, b in enumerate(used) if b is m) for m in members]
        solve = np.linalg.pinv(design_matrix(members, group, len(labels), variable))
        slope = log_b[:, index] @ solve[-1]
        slope_se = jackknife_se(loo[:, :, index] @ solve[-1])
        rates[f"slope_{variable}"] = _rate(np.abs(slope - truth[index] @ solve[-1])
                                           <= t * slope_se)
    arrays = _slice_arrays(used)
    log_g = fit_log_g(log_b, *arrays)
    g_se = jackknife_se(fit_log_g(loo, *arrays))
    rates["g_opt"] = _rate(np.abs(log_g - fit_log_g(truth, *arrays)) <= t * g_se)
    return Coverage(nominal=used[0].confidence, n_seeds=seeds, replicates=replicates,
                    rates=rates)
