"""Quadratic surface with constant, possibly anisotropic and non-aligned gradient noise."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._types import Matrix, Scalar, Vector
from .._validation import check_symmetric_matrix
from ..errors import MatrixError, ParameterRangeError
from ._constant_noise import ConstantGaussianNoise, symmetric_sqrt_factor


class Quadratic(ConstantGaussianNoise):
    """L(θ) = ½(θ−θ*)ᵀH(θ−θ*) with constant per-example gradient covariance C.

    H must be symmetric positive definite and C symmetric positive semi-definite; C need not
    commute with H (noise not aligned with the curvature). Minibatch noise is Gaussian with
    covariance Σ_B = f·C (docs/theory.md §1), so every closed form of docs/theory.md §3 applies
    with S = f·C.
    """

    hessian: Matrix
    minimum: Vector
    noise_cov: Matrix
    noise_factor: Matrix

    def __init__(
        self,
        hessian: ArrayLike,
        noise_cov: ArrayLike,
        minimum: ArrayLike | None = None,
        dtype: jnp.dtype | str = jnp.float32,
    ):
        hessian_np = check_symmetric_matrix("hessian", hessian, definite=True)
        d = hessian_np.shape[0]
        noise_np = check_symmetric_matrix("noise_cov", noise_cov, definite=False, dim=d)
        minimum_np = np.zeros(d) if minimum is None else np.asarray(minimum, dtype=np.float64)
        if minimum_np.shape != (d,):
            raise MatrixError(f"minimum must have shape ({d},), got {minimum_np.shape}")
        self.hessian = jnp.asarray(hessian_np, dtype=dtype)
        self.noise_cov = jnp.asarray(noise_np, dtype=dtype)
        self.minimum = jnp.asarray(minimum_np, dtype=dtype)
        self.noise_factor = jnp.asarray(symmetric_sqrt_factor(noise_np), dtype=dtype)

    @classmethod
    def from_spectra(
        cls,
        hessian_eigenvalues: ArrayLike,
        noise_eigenvalues: ArrayLike,
        *,
        rotate_noise: bool = True,
        seed: int = 0,
        dtype: jnp.dtype | str = jnp.float32,
    ) -> Quadratic:
        """H = diag(h) and C = R·diag(c)·Rᵀ, with R a seeded Haar-random rotation when
        `rotate_noise` (so C does not commute with H), else R = I (aligned noise)."""
        h = np.atleast_1d(np.asarray(hessian_eigenvalues, dtype=np.float64))
        c = np.atleast_1d(np.asarray(noise_eigenvalues, dtype=np.float64))
        if h.ndim != 1 or c.shape != h.shape:
            raise MatrixError(
                f"noise_eigenvalues must have the same length as hessian_eigenvalues "
                f"({h.size}), got {c.size}"
            )
        if np.any(h <= 0):
            raise ParameterRangeError("hessian_eigenvalues", h.tolist(), "all > 0 (H is SPD)")
        if np.any(c < 0):
            raise ParameterRangeError("noise_eigenvalues", c.tolist(), "all >= 0 (C is PSD)")
        rotation = haar_rotation(h.size, seed) if rotate_noise else np.eye(h.size)
        return cls(np.diag(h), (rotation * c) @ rotation.T, dtype=dtype)

    @property
    def dim(self) -> int:
        """d, the size of H."""
        return self.hessian.shape[0]

    def loss(self, theta: Vector) -> Scalar:
        """L(θ) = ½(θ−θ*)ᵀH(θ−θ*)."""
        delta = theta - self.minimum
        return 0.5 * delta @ (self.hessian @ delta)

    def gradient(self, theta: Vector) -> Vector:
        """∇L(θ) = H(θ−θ*), in closed form."""
        return self.hessian @ (theta - self.minimum)

    def initial_point(self) -> Vector:
        """θ₀ = θ*, the minimum (so runs start at the stationary mean)."""
        return self.minimum


def haar_rotation(dim: int, seed: int) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian matrix, signs fixed), seeded."""
    gaussian = np.random.default_rng(seed).standard_normal((dim, dim))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))
