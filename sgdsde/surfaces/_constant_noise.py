"""Shared base of the synthetic surfaces with constant Gaussian gradient noise."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import numpy as np

from .._types import Key, NoiseVector, Vector
from ..surface import Surface


class ConstantGaussianNoise(Surface):
    """Base for synthetic surfaces with constant per-example gradient covariance C and the
    Gaussian minibatch model ĝ = ∇L + √f·D z, D = V·diag(√λ) from C = V diag(λ) Vᵀ."""

    noise_cov: eqx.AbstractVar[jax.Array]
    noise_factor: eqx.AbstractVar[jax.Array]

    additive_noise: ClassVar[bool] = True
    gaussian_noise: ClassVar[bool] = True

    @property
    def noise_dim(self) -> int:
        """r = number of columns of the constant factor D (= d)."""
        return self.noise_factor.shape[1]

    def noise_apply(self, theta: Vector, z: NoiseVector, key: Key | None = None) -> Vector:
        """D·z with the constant D = V·diag(√λ), D Dᵀ = C (θ and `key` unused)."""
        del theta, key
        return self.noise_factor @ z


def symmetric_sqrt_factor(matrix: np.ndarray) -> np.ndarray:
    """D = V·diag(√λ) with V diag(λ) Vᵀ = M (valid for semi-definite M), so D Dᵀ = M."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
