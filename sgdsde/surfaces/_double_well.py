"""A separable double-well surface: the simplest non-quadratic test bed."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._types import Matrix, Scalar, Vector
from .._validation import check_symmetric_matrix
from ..errors import ParameterRangeError
from ._constant_noise import ConstantGaussianNoise, symmetric_sqrt_factor


class DoubleWell(ConstantGaussianNoise):
    """L(θ) = h/(8a²)·Σ_i (θ_i² − a²)², minima at θ_i = ±a with curvature h there, a barrier
    of height h·a²/8 at θ_i = 0, and constant per-example gradient covariance C.

    The drift is cubic, so SGD and its SDEs differ at finite horizon in a way no linear
    theory captures: the weak-error tests (gap ∝ ε for the first-order SME, smaller for the
    second-order one) use it. The default start is θ₀ = 2a in every coordinate, outside the
    well, where the drift is strong and strongly non-linear (curvature 11h/2 there).
    """

    curvature: float
    width: float
    noise_cov: Matrix
    noise_factor: Matrix

    def __init__(
        self,
        noise_cov: ArrayLike,
        curvature: float = 1.0,
        width: float = 1.0,
        dtype: jnp.dtype | str = jnp.float32,
    ):
        if not curvature > 0:
            raise ParameterRangeError("curvature", curvature, "> 0")
        if not width > 0:
            raise ParameterRangeError("width", width, "> 0")
        noise_np = check_symmetric_matrix("noise_cov", noise_cov, definite=False)
        self.curvature = float(curvature)
        self.width = float(width)
        self.noise_cov = jnp.asarray(noise_np, dtype=dtype)
        self.noise_factor = jnp.asarray(symmetric_sqrt_factor(noise_np), dtype=dtype)

    @property
    def dim(self) -> int:
        """d, the size of the noise covariance C."""
        return self.noise_cov.shape[0]

    def loss(self, theta: Vector) -> Scalar:
        """L(θ) = h/(8a²)·Σ_i (θ_i² − a²)²."""
        scale = self.curvature / (8.0 * self.width**2)
        return scale * jnp.sum((theta**2 - self.width**2) ** 2)

    def initial_point(self) -> Vector:
        """θ₀ = 2a in every coordinate (outside the wells)."""
        return jnp.full((self.dim,), 2.0 * self.width, dtype=self.noise_cov.dtype)

