"""The gradient noise scale of McCandlish et al. (2018) on any surface, exactly and by the
two-batch estimator, and along SGD trajectories (docs/theory.md §8, docs/toolkit.md).

With G = ∇L, C the per-example gradient covariance (population, 1/N: the C of Σ_B = f·C) and
H = ∇²L (the mean training loss, L2 term included):

- B_simple = tr C/|G|² and B_noise = tr(HC)/(GᵀHG).
- **Exact** (:func:`gradient_noise_scale`): C from columns u_k with Σ_k u_k u_kᵀ = C — the
  centred per-example gradients (∇ℓ_i − ḡ)/√N of a :class:`~sgdsde.surfaces.LearnedSurface`
  (one vmapped pass over the data), or D e_k for a surface with constant noise (C = D Dᵀ);
  tr(HC) = Σ_k u_kᵀHu_k by Hessian–vector products (forward over reverse), or, when d is
  smaller than the number of columns, through H itself (d products). Either way tr(HC) costs
  min(N, d) Hessian–vector products: exact B_noise is not a few-gradient quantity.
- **Two-batch estimate** (:func:`two_batch_noise_scale`): what a user without per-example
  gradients can run. E|ĝ_b|² = |G|² + f_b tr C for a minibatch of b examples (f_b = 1/b with
  replacement, (1/b)(N−b)/(N−1) without), so from independent pairs of minibatches of sizes
  b < B', tr C ≈ (|ĝ_b|² − |ĝ_B'|²)/(f_b − f_B') and |G|² ≈ (f_b|ĝ_B'|² − f_B'|ĝ_b|²)/(f_b − f_B'),
  each unbiased; with f = 1/b these are McCandlish et al.'s formulas. B_simple is their ratio
  (consistent, not unbiased), with a delta-method standard error over the pairs. B_noise needs
  H and is not estimated this way.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Key, Vector
from .._validation import check_int
from ..brownian import Stream, path_keys
from ..compare import Estimate
from ..config import RunConfig
from ..errors import IncompatibleChoiceError, ParameterRangeError
from ..sgd import simulate_sgd
from ..surface import Surface
from ..surfaces import LearnedSurface
from ..theory import minibatch_noise_factor

#: Hessian–vector products evaluated together (one vmapped batch) by the exact computation.
CHUNK = 64


@dataclasses.dataclass(frozen=True)
class NoiseScale:
    """The exact gradient noise scale at one θ: B_simple, B_noise and their parts."""

    b_simple: float
    b_noise: float
    trace_cov: float
    grad_sq_norm: float
    trace_hc: float
    g_h_g: float

    def to_dict(self) -> dict[str, float]:
        """The six numbers by name."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class NoiseScaleEstimate:
    """The two-batch estimate at one θ from `pairs` independent pairs of minibatches of sizes
    `small_batch` < `large_batch`: tr C, |G|² and B_simple, each ± standard error."""

    small_batch: int
    large_batch: int
    pairs: int
    replacement: bool
    trace_cov: Estimate
    grad_sq_norm: Estimate
    b_simple: Estimate

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings and each quantity as {value, stderr}."""
        out: dict[str, Any] = {k: getattr(self, k) for k in
                               ("small_batch", "large_batch", "pairs", "replacement")}
        for name in ("trace_cov", "grad_sq_norm", "b_simple"):
            estimate = getattr(self, name)
            out[name] = {"value": float(estimate.value), "stderr": float(estimate.stderr)}
        return out


def exact_noise_source(surface: Surface) -> str:
    """How C is available exactly: ``"per_example"`` (a learned surface) or ``"constant"``
    (declared ``additive_noise``); otherwise :class:`IncompatibleChoiceError`, before anything
    is compiled."""
    if isinstance(surface, LearnedSurface):
        return "per_example"
    if surface.additive_noise:
        return "constant"
    raise IncompatibleChoiceError(
        f"surface={type(surface).__name__} has no per-example gradients and no constant noise "
        "covariance, so the exact B_simple and B_noise are not available; use "
        "two_batch_noise_scale (minibatch gradient norms only)", names=("surface",))


def gradient_noise_scale(surface: Surface, theta: Vector | None = None) -> NoiseScale:
    """The exact B_simple = tr C/|G|² and B_noise = tr(HC)/(GᵀHG) at θ (default θ₀), with
    tr C, |G|², tr(HC) and GᵀHG (module docstring; cost: min(N, d) Hessian–vector products).

    Raises :class:`IncompatibleChoiceError` for a surface without per-example gradients or
    constant noise (e.g. an SVAG wrapper of a learned surface)."""
    source = exact_noise_source(surface)
    point = surface.initial_point() if theta is None else jnp.asarray(theta)
    columns = surface.n_train if source == "per_example" else surface.noise_dim
    trace_cov, grad_sq, ghg, trace_hc = (
        float(v) for v in _exact_terms(surface, point, source=source,
                                       via_hessian=surface.dim < columns))
    return NoiseScale(b_simple=trace_cov / grad_sq, b_noise=trace_hc / ghg, trace_cov=trace_cov,
                      grad_sq_norm=grad_sq, trace_hc=trace_hc, g_h_g=ghg)


@eqx.filter_jit
def _exact_terms(surface: Surface, theta: Vector, *, source: str, via_hessian: bool):
    """(tr C, |G|², GᵀHG, tr HC) at θ; `via_hessian` forms H by d products first."""
    gradient = surface.gradient(theta)

    def hvp(v: Vector) -> Vector:
        return jax.jvp(surface.gradient, (theta,), (v,))[1]

    if via_hessian:
        hessian = jax.lax.map(hvp, jnp.eye(theta.shape[0], dtype=theta.dtype), batch_size=CHUNK)

        def quadratic(u: Vector) -> jax.Array:
            return u @ (hessian @ u)
    else:

        def quadratic(u: Vector) -> jax.Array:
            return u @ hvp(u)

    def terms(u: Vector) -> tuple[jax.Array, jax.Array]:
        return u @ u, quadratic(u)

    if source == "per_example":
        x, y = surface.x_train, surface.y_train

        def example(i: jax.Array) -> tuple[jax.Array, jax.Array]:
            loss = lambda t: surface.per_example_losses(t, x[i][None], y[i][None])[0]  # noqa: E731
            return terms(jax.grad(loss)(theta))

        squares, quads = jax.lax.map(example, jnp.arange(x.shape[0]), batch_size=CHUNK)
        mean = jax.grad(lambda t: surface.per_example_losses(t, x, y).mean())(theta)
        trace_cov = squares.mean() - mean @ mean
        trace_hc = quads.mean() - quadratic(mean)
    else:
        rows = surface.noise_dim

        def column(k: jax.Array) -> tuple[jax.Array, jax.Array]:
            return terms(surface.noise_apply(theta, jax.nn.one_hot(k, rows, dtype=theta.dtype)))

        squares, quads = jax.lax.map(column, jnp.arange(rows), batch_size=CHUNK)
        trace_cov, trace_hc = squares.sum(), quads.sum()
    return trace_cov, gradient @ gradient, quadratic(gradient), trace_hc


def check_batch_pair(small_batch: object, large_batch: object, n_train: int | None,
                     replacement: bool) -> tuple[int, int]:
    """b and B' as ints with 1 ≤ b < B' (and B' ≤ N when drawing without replacement)."""
    large = check_int("large_batch", large_batch, 2,
                      maximum=None if replacement or n_train is None else n_train)
    small = check_int("small_batch", small_batch)
    if small >= large:
        raise ParameterRangeError("small_batch", small, f"< large_batch={large}")
    return small, large


def two_batch_noise_scale(surface: Surface, theta: Vector | None = None, *, small_batch: int,
                          large_batch: int, pairs: int = 256, seed: int = 0,
                          replacement: bool = True) -> NoiseScaleEstimate:
    """The two-batch estimate of tr C, |G|² and B_simple at θ (default θ₀) from `pairs`
    independent pairs of minibatch gradients of sizes b = `small_batch` < B' = `large_batch`,
    drawn by the surface's own sampler (module docstring). Works on any surface."""
    small, large = check_batch_pair(small_batch, large_batch, surface.n_train, replacement)
    check_int("pairs", pairs, 2)
    point = surface.initial_point() if theta is None else jnp.asarray(theta)
    return _estimate(surface, point, path_keys(seed, pairs, Stream.MINIBATCH), small, large,
                     replacement)


def _estimate(surface: Surface, theta: Vector, keys: Key, small: int, large: int,
              replacement: bool) -> NoiseScaleEstimate:
    """The two-batch estimate from one pair of minibatches per key."""
    squares = _pair_squares(surface, theta, keys, sizes=(small, large),
                            n_train=surface.n_train, replacement=replacement)
    return _two_batch(np.asarray(squares, np.float64), small, large, surface.n_train,
                      replacement)


@eqx.filter_jit
def _pair_squares(surface: Surface, theta: Vector, keys: Key, *, sizes: tuple[int, int],
                  n_train: int | None, replacement: bool) -> jax.Array:
    """(|ĝ_b|², |ĝ_B'|²) for each key, shape (pairs, 2): two independent minibatches."""
    state = surface.sampler_state()

    def one(key: Key) -> jax.Array:
        norms = []
        for index, size in enumerate(sizes):
            g, _ = surface.minibatch_gradient(
                surface.parameters(theta), jax.random.fold_in(key, index),
                jnp.zeros((), jnp.int32), state, batch_size=size, n_train=n_train,
                replacement=replacement)
            g = surface.flatten(g)
            norms.append(g @ g)
        return jnp.stack(norms)

    return jax.vmap(one)(keys)


def _two_batch(squares: np.ndarray, small: int, large: int, n_train: int | None,
               replacement: bool) -> NoiseScaleEstimate:
    """The estimates from the per-pair squared norms (module docstring)."""
    f_small = minibatch_noise_factor(small, n_train, replacement)
    f_large = minibatch_noise_factor(large, n_train, replacement)
    s, l = squares[:, 0], squares[:, 1]  # noqa: E741
    trace = (s - l) / (f_small - f_large)
    signal = (f_small * l - f_large * s) / (f_small - f_large)
    count = squares.shape[0]
    mean_t, mean_g = trace.mean(), signal.mean()
    cov = np.cov(np.stack([trace, signal]), ddof=1) / count
    ratio = mean_t / mean_g
    gradient = np.array([1.0 / mean_g, -mean_t / mean_g**2])
    ratio_se = math.sqrt(max(gradient @ cov @ gradient, 0.0))
    return NoiseScaleEstimate(
        small_batch=small, large_batch=large, pairs=count, replacement=replacement,
        trace_cov=Estimate(mean_t, math.sqrt(cov[0, 0])),
        grad_sq_norm=Estimate(mean_g, math.sqrt(cov[1, 1])),
        b_simple=Estimate(ratio if mean_g > 0 else math.nan, ratio_se if mean_g > 0 else math.nan),
    )


def noise_scale_along_training(
    surface: Surface, run: RunConfig, *, save_steps: object = None, small_batch: int,
    large_batch: int, pairs: int = 256, exact: bool = True,
) -> dict[str, Any]:
    """Train `run.paths` SGD paths on `surface` and, at every saved step of every path that did
    not diverge, compute the exact noise scale (when `exact`) and the two-batch estimate (pairs
    drawn with replacement from the path's ``Stream.BOOTSTRAP`` key folded with the checkpoint:
    independent of the minibatches that trained it).

    **Returns:** a JSON-ready record: ``steps``, and per quantity (``b_simple``, ``b_noise``,
    ``trace_cov``, ``grad_sq_norm`` exact; ``estimate`` with value and stderr of
    ``b_simple``, ``trace_cov``, ``grad_sq_norm``) a (paths, saves) list, plus the run's
    settings and the number of diverged paths."""
    if exact:
        exact_noise_source(surface)
    check_batch_pair(small_batch, large_batch, surface.n_train, True)
    check_int("pairs", pairs, 2)
    sgd = simulate_sgd(surface, run, save_steps=save_steps)
    finite = np.flatnonzero(~np.asarray(sgd.diverged))
    streams = path_keys(run.seed, run.paths, Stream.BOOTSTRAP)
    exact_rows: list[list[dict[str, float]]] = []
    estimate_rows: list[list[dict[str, Any]]] = []
    for path in finite:
        exact_rows.append([])
        estimate_rows.append([])
        for index in range(len(sgd.steps)):
            theta = sgd.theta[path, index]
            if exact:
                exact_rows[-1].append(gradient_noise_scale(surface, theta).to_dict())
            keys = jax.random.split(jax.random.fold_in(streams[path], index), pairs)
            estimate_rows[-1].append(
                _estimate(surface, theta, keys, small_batch, large_batch, True).to_dict())
    record: dict[str, Any] = {
        "steps": sgd.steps.tolist(), "lr": run.lr, "momentum": run.momentum,
        "batch_size": run.batch_size, "n_train": run.n_train, "paths": len(finite),
        "diverged": int(np.sum(np.asarray(sgd.diverged))), "small_batch": small_batch,
        "large_batch": large_batch, "pairs": pairs,
        "train_loss": [[float(surface.loss(sgd.theta[p, s])) for s in range(len(sgd.steps))]
                       for p in finite],
        "estimate": estimate_rows,
    }
    if exact:
        record["exact"] = exact_rows
    return record
