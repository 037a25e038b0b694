"""Synthetic sweeps whose noise is shaped like a real sweep's, for calibration.

The seed-to-seed noise of a sweep is not the fitter's model: one seed drives the network's
initialisation and the minibatch order of every run, so a seed that does well at one (ε, B)
tends to do well at the others, and the noise is neither Gaussian nor equal across B. A
synthetic sweep here keeps that structure: its "truth" is a curve per slice (the real seed means,
or a shifted copy of them), and each synthetic seed adds one *real* seed's residual pattern —
its deviations from the seed means across every slice and batch size at once, scaled by
√(S/(S − 1)) so their variance is unbiased — with a random sign (a wild bootstrap of whole seed
patterns). :func:`sgdsde.scaling.interval_coverage` and the goodness-of-fit of the shared g_opt
use it (docs/theory.md §7).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ._b_opt import BOpt, jackknife_weights, seed_means, vertex_fit


@dataclasses.dataclass(frozen=True)
class SweepNoise:
    """Per slice: the grid x = ln B, the real seed-mean curve (larger is better) and the real
    residual patterns of the union of seeds, shape (U, nB), divided by √(n − 1) for the cell's
    count n of finite runs (zero where a seed has no run, or n = 1)."""

    seeds: np.ndarray
    grids: tuple[np.ndarray, ...]
    truths: tuple[np.ndarray, ...]
    patterns: tuple[np.ndarray, ...]


def sweep_noise(b_opts: Sequence[BOpt]) -> SweepNoise:
    """The noise model of the slices `b_opts` (module docstring)."""
    seeds = np.unique(np.concatenate([b.seeds for b in b_opts]))
    grids, truths, patterns = [], [], []
    for b in b_opts:
        values = b.values  # already larger-is-better
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(values, axis=0)
        count = np.sum(np.isfinite(values), axis=0)
        scale = np.where(count > 1, 1.0 / np.sqrt(np.maximum(count - 1, 1)), 0.0)
        pattern = np.zeros((seeds.size, values.shape[1]))
        pattern[np.searchsorted(seeds, b.seeds)] = np.nan_to_num(values - mean) * scale
        grids.append(np.log(b.batch_sizes.astype(float)))
        truths.append(mean)
        patterns.append(pattern)
    return SweepNoise(seeds, tuple(grids), tuple(truths), tuple(patterns))


def synthetic_values(noise: SweepNoise, truths: Sequence[np.ndarray], n_seeds: int,
                     replicates: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`replicates` synthetic sweeps of `n_seeds` seeds: per slice an array (R, S, nB) of truth
    plus Σ_u w_u·pattern_u, the same weights w ~ N(0, I) for every slice of a synthetic seed (so
    the cross-slice correlation of the real seeds is kept)."""
    weights = rng.standard_normal((replicates, n_seeds, noise.seeds.size))
    return [truth + weights @ pattern for truth, pattern in zip(truths, noise.patterns,
                                                                 strict=True)]


def estimate_values(values: np.ndarray, x: np.ndarray, n_fit: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ln B_opt of R synthetic slices (R, S, nB): the estimate (R,), the leave-one-seed-out
    estimates (R, S) and whether the estimate is usable (interior and concave) (R,)."""
    replicates, n_seeds, n_b = values.shape
    means, counts = seed_means(values, jackknife_weights(n_seeds))
    fit = vertex_fit(means.reshape(-1, n_b), counts.reshape(-1, n_b), x, min(n_fit, n_b))
    log_b = fit.log_b.reshape(replicates, n_seeds + 1)
    best = fit.best.reshape(replicates, n_seeds + 1)[:, 0]
    usable = (fit.concave.reshape(replicates, n_seeds + 1)[:, 0]
              & ~fit.clipped.reshape(replicates, n_seeds + 1)[:, 0]
              & (best > 0) & (best < n_b - 1))
    return log_b[:, 0], log_b[:, 1:], usable


def noise_free_log_b(truth: np.ndarray, x: np.ndarray, n_fit: int) -> float:
    """What the estimator converges to with infinitely many seeds: its value on the truth."""
    fit = vertex_fit(truth[None], np.ones((1, truth.size)), x, min(n_fit, truth.size))
    return float(fit.log_b[0])


def shifted_truth(truth: np.ndarray, x: np.ndarray, shift: float) -> np.ndarray:
    """The curve moved by `shift` in ln B (its peak moves with it), held constant beyond the
    grid's ends; `truth` may be (nB,) or a stack of rows (..., nB)."""
    flat = np.reshape(truth, (-1, x.size))
    moved = np.array([np.interp(x - shift, x, row) for row in flat])
    return moved.reshape(np.shape(truth))


def shifted(noise: SweepNoise, shifts: Sequence[float]) -> SweepNoise:
    """Every slice's truth *and* noise patterns moved by its shift in ln B, so that the noise
    around a moved peak is the noise that was around it."""
    return SweepNoise(
        noise.seeds, noise.grids,
        tuple(shifted_truth(t, x, d) for t, x, d in zip(noise.truths, noise.grids, shifts,
                                                          strict=True)),
        tuple(shifted_truth(p, x, d) for p, x, d in zip(noise.patterns, noise.grids, shifts,
                                                          strict=True)))
