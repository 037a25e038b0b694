"""The noisy quadratic model (Zhang et al. 2019; docs/theory.md §8, docs/toolkit.md)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .. import theory
from .._types import Key, NoiseVector, Scalar, Vector
from ..errors import MatrixError, ParameterRangeError
from ..surface import Surface


class NoisyQuadratic(Surface):
    """L(θ) = ½ Σ_i h_i θ_i² with constant, diagonal per-example gradient covariance
    C = diag(c): the minibatch gradient is ĝ = h ⊙ θ + √f·√c ⊙ z, z ~ N(0, I), so each
    coordinate is an independent 1-D quadratic with gradient noise of variance f·c_i
    (f = 1/B for infinite data). Everything is diagonal, so d = 10⁴ costs O(d) per step, and
    the expected loss of SGD, heavy ball and their SDEs is exact
    (:func:`sgdsde.theory.nqm_expected_loss`).
    """

    curvatures: Vector
    noise_variances: Vector
    start: Vector

    additive_noise: ClassVar[bool] = True
    gaussian_noise: ClassVar[bool] = True

    def __init__(self, curvatures: ArrayLike, noise_variances: ArrayLike,
                 theta0: ArrayLike | None = None, dtype: jnp.dtype | str = jnp.float32):
        h = np.atleast_1d(np.asarray(curvatures, dtype=np.float64))
        c = np.atleast_1d(np.asarray(noise_variances, dtype=np.float64))
        if h.ndim != 1 or h.size == 0 or c.shape != h.shape:
            raise MatrixError(f"curvatures and noise_variances must be non-empty vectors of one "
                              f"length, got shapes {h.shape} and {c.shape}")
        if not (np.all(np.isfinite(h)) and np.all(h > 0)):
            raise ParameterRangeError("curvatures", _brief(h), "finite and all > 0")
        if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
            raise ParameterRangeError("noise_variances", _brief(c), "finite and all >= 0")
        start = 1.0 / np.sqrt(h) if theta0 is None else np.asarray(theta0, dtype=np.float64)
        if start.shape != h.shape or not np.all(np.isfinite(start)):
            raise MatrixError(f"theta0 must be a finite vector of shape {h.shape}, got "
                              f"{start.shape}")
        self.curvatures = jnp.asarray(h, dtype)
        self.noise_variances = jnp.asarray(c, dtype)
        self.start = jnp.asarray(start, dtype)

    @classmethod
    def power_law(cls, dim: int = 10_000, power: float = 1.0, noise: float = 1.0, *,
                  dtype: jnp.dtype | str = jnp.float32) -> NoisyQuadratic:
        """Zhang et al.'s setting: h_i = 1/i^p and c_i = σ²·h_i, i = 1..d (p = 1, σ² = 1,
        d = 10⁴ in the paper), started at θ₀,i = 1/√h_i so that every coordinate starts with
        loss ½ (our choice: the slow directions then matter for reaching a target). σ² =
        `noise` scales every batch size: the model at (σ², B) is the model at (1, B/σ²)."""
        if not (isinstance(dim, int) and not isinstance(dim, bool) and dim >= 1):
            raise ParameterRangeError("dim", dim, "an integer >= 1")
        if not (isinstance(power, int | float) and np.isfinite(power) and power >= 0):
            raise ParameterRangeError("power", power, "a finite number >= 0")
        if not (isinstance(noise, int | float) and np.isfinite(noise) and noise > 0):
            raise ParameterRangeError("noise", noise, "a finite number > 0")
        h = np.arange(1, dim + 1, dtype=np.float64) ** -float(power)
        return cls(h, float(noise) * h, dtype=dtype)

    @property
    def dim(self) -> int:
        """d, the number of coordinates."""
        return self.curvatures.shape[0]

    @property
    def noise_dim(self) -> int:
        """r = d: one independent noise per coordinate."""
        return self.curvatures.shape[0]

    def loss(self, theta: Vector) -> Scalar:
        """L(θ) = ½ Σ h_i θ_i²."""
        return 0.5 * jnp.sum(self.curvatures * theta**2)

    def gradient(self, theta: Vector) -> Vector:
        """∇L(θ) = h ⊙ θ, in closed form."""
        return self.curvatures * theta

    def noise_apply(self, theta: Vector, z: NoiseVector, key: Key | None = None) -> Vector:
        """D z = √c ⊙ z, D Dᵀ = diag(c) (θ and `key` unused)."""
        del theta, key
        return jnp.sqrt(self.noise_variances) * z

    def initial_point(self) -> Vector:
        """θ₀ (default 1/√h_i: loss ½ per coordinate)."""
        return self.start

    def max_stable_lr(self, momentum: float = 0.0) -> float:
        """Heavy ball's stability limit 2(1+m)/max h_i (:func:`sgdsde.theory.stable_lr_limit`)."""
        return float(theory.stable_lr_limit(float(jnp.max(self.curvatures)), momentum))


def _brief(values: np.ndarray) -> str:
    """A short description of a long vector for an error message."""
    shown = ", ".join(f"{v:g}" for v in values[:4])
    return f"[{shown}{', ...' if values.size > 4 else ''}] (min {values.min():g})"
