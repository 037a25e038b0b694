"""Ensemble statistics and SGD-vs-SDE distances, each with a standard error.

Paths are independent, so the standard error of a mean over P paths is the sample standard
deviation over √P. Two ensembles are *paired* when path i of both was driven by the same
Brownian motion (a coupled run): then differences are formed path by path, which cancels the
shared noise. Diverged paths are dropped (and must be reported) before any statistic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from ._types import Ensemble, Key
from .brownian import Stream, path_keys
from .results import EnsembleRun


class Estimate(NamedTuple):
    """A statistic and its standard error (same shape)."""

    value: jax.Array
    stderr: jax.Array


def finite_paths(*runs: EnsembleRun) -> tuple[Ensemble, ...]:
    """Final states of the paths that diverged in none of `runs` (paired runs stay aligned)."""
    keep = ~np.any(np.stack([np.asarray(r.diverged) for r in runs]), axis=0)
    return tuple(r.final[keep] for r in runs)


def mean_estimate(samples: jax.Array) -> Estimate:
    """Mean over the leading (path) axis and its standard error s/√P."""
    count = samples.shape[0]
    return Estimate(samples.mean(0), samples.std(0, ddof=1) / jnp.sqrt(count))


def _centred_products(x: Ensemble) -> jax.Array:
    centred = x - x.mean(0)
    return centred[:, :, None] * centred[:, None, :]


def covariance_estimate(x: Ensemble) -> Estimate:
    """Sample covariance Ĉ = (1/(P−1))Σ(x−x̄)(x−x̄)ᵀ, entrywise standard error
    std_p[(x_i−x̄_i)(x_j−x̄_j)]/√P (the delta-method error of a mean of products)."""
    count = x.shape[0]
    products = _centred_products(x)
    return Estimate(
        products.sum(0) / (count - 1), products.std(0, ddof=1) / jnp.sqrt(count)
    )


def difference_estimate(a: jax.Array, b: jax.Array, *, paired: bool) -> Estimate:
    """E[a] − E[b] over paths, paired (path-by-path difference) or independent."""
    if paired:
        return mean_estimate(a - b)
    mean_a, mean_b = mean_estimate(a), mean_estimate(b)
    return Estimate(mean_a.value - mean_b.value, jnp.hypot(mean_a.stderr, mean_b.stderr))


def covariance_difference(x: Ensemble, y: Ensemble, *, paired: bool) -> Estimate:
    """Ĉ_x − Ĉ_y entrywise, with the paired or independent standard error."""
    scale_x = x.shape[0] / (x.shape[0] - 1)
    scale_y = y.shape[0] / (y.shape[0] - 1)
    return difference_estimate(
        scale_x * _centred_products(x), scale_y * _centred_products(y), paired=paired
    )


def bootstrap_key(seed: int, index: int = 0) -> Key:
    """The key of bootstrap number `index` of a run with `seed`: its own random stream
    (``Stream.BOOTSTRAP``), independent of the simulators' streams."""
    return path_keys(seed, index + 1, Stream.BOOTSTRAP)[index]


def bootstrap(
    statistic: Callable[[Ensemble, Ensemble], jax.Array],
    x: Ensemble,
    y: Ensemble,
    key: Key,
    *,
    paired: bool,
    n_boot: int = 200,
) -> Estimate:
    """statistic(x, y) and its bootstrap standard error over `n_boot` resamples of paths
    (one index set for both when paired, independent index sets otherwise)."""

    def resample(k: Key) -> jax.Array:
        kx, ky = jax.random.split(k)
        ix = jax.random.randint(kx, (x.shape[0],), 0, x.shape[0])
        iy = ix if paired else jax.random.randint(ky, (y.shape[0],), 0, y.shape[0])
        return statistic(x[ix], y[iy])

    replicates = jax.vmap(resample)(jax.random.split(key, n_boot))
    return Estimate(statistic(x, y), replicates.std(0, ddof=1))


def relative_covariance_gap(x: Ensemble, y: Ensemble) -> jax.Array:
    """‖Ĉ_x − Ĉ_y‖_F / ‖Ĉ_y‖_F: the relative SGD–SDE gap of stationary covariances."""
    cx, cy = jnp.cov(x, rowvar=False), jnp.cov(y, rowvar=False)
    return jnp.linalg.norm(jnp.atleast_2d(cx - cy)) / jnp.linalg.norm(jnp.atleast_2d(cy))


def _psd_sqrt(matrix: jax.Array) -> jax.Array:
    eigenvalues, eigenvectors = jnp.linalg.eigh(matrix)
    return (eigenvectors * jnp.sqrt(jnp.clip(eigenvalues, 0.0))) @ eigenvectors.T


def gaussian_w2(x: Ensemble, y: Ensemble) -> jax.Array:
    """2-Wasserstein distance between the Gaussian fits N(x̄, Ĉ_x) and N(ȳ, Ĉ_y):
    W2² = ‖x̄−ȳ‖² + tr(Ĉ_x + Ĉ_y − 2(Ĉ_y^{1/2} Ĉ_x Ĉ_y^{1/2})^{1/2}) (Bures metric).
    Biased upwards by sampling noise at finite P (it is ≥ 0)."""
    cx = jnp.atleast_2d(jnp.cov(x, rowvar=False))
    cy = jnp.atleast_2d(jnp.cov(y, rowvar=False))
    root_y = _psd_sqrt(cy)
    cross = _psd_sqrt(root_y @ cx @ root_y)
    squared = jnp.sum((x.mean(0) - y.mean(0)) ** 2) + jnp.trace(cx + cy - 2.0 * cross)
    return jnp.sqrt(jnp.clip(squared, 0.0))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of two sequences (NaN when either is constant)."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    if np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        return math.nan
    return float(stats.spearmanr(x_arr, y_arr).statistic)


def chance_band(n_test: int, n_classes: int = 2, z: float = 3.0) -> float:
    """Half-width z·√(p(1−p)/n_test) of test accuracy around chance p = 1/n_classes."""
    p = 1.0 / n_classes
    return z * math.sqrt(p * (1 - p) / n_test)


def equivalence_bound(estimate: float, stderr: float, dof: int, alpha: float) -> float:
    """Upper bound of |estimate| in two one-sided tests (TOST) at level `alpha`:
    |estimate| + t_{dof}(1 − α)·stderr. The difference is equivalent to zero within a margin δ
    (both one-sided tests reject |true difference| ≥ δ) exactly when this bound is below δ."""
    return abs(estimate) + float(stats.t.isf(alpha, dof)) * stderr
