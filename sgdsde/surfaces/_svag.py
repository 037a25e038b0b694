"""SVAG: the stochastic variance amplified gradient of Li, Malladi & Arora (2021), as a surface
wrapper (docs/theory.md §2d and §8, docs/toolkit.md)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from .._types import Key, NoiseVector, Scalar, Vector
from .._validation import check_number
from ..surface import Surface


def check_ell(ell: object) -> float:
    """ℓ as a float; ParameterRangeError unless a finite number ≥ 1."""
    return check_number("ell", ell, at_least=1.0)


def svag_coefficients(ell: float) -> tuple[float, float]:
    """(1 + √(2ℓ−1))/2 and (1 − √(2ℓ−1))/2: they sum to 1 and their squares to ℓ."""
    root = math.sqrt(2.0 * ell - 1.0)
    return 0.5 * (1.0 + root), 0.5 * (1.0 - root)


class SVAG(Surface):
    """The wrapped surface with the SVAG gradient ĝ = a₁ĝ₁ + a₂ĝ₂, a₁,₂ = (1 ± √(2ℓ−1))/2, from
    two independent minibatches ĝ₁, ĝ₂ of the wrapped surface's own sampler (each path's key
    split in two streams; both samplers' states carried, so shuffled epochs stay epochs).

    E ĝ = ∇L and Cov ĝ = (a₁² + a₂²)Σ_B = ℓ·Σ_B. Run it with learning rate ε/ℓ for ℓ× the
    updates (:func:`sgdsde.studies.svag_study`): its first-order SME is then SGD's at ε, and as
    ℓ → ∞ the iterates converge weakly to that SDE (weak order 1 in ε/ℓ). Loss and gradient are
    the wrapped surface's; the noise model is ℓ·C: ``noise_apply`` is √ℓ times the wrapped
    factor, so ``simulate_sde`` on SVAG(ℓ) at ε/ℓ integrates SGD's SME at ε. ℓ = 1 is plain SGD.

    Declared conservatively, whatever the wrapped surface declares: ``additive_noise`` and
    ``gaussian_noise`` are False (the SDE engine then defaults to Euler, and SVAG cannot be
    coupled to an SDE's Brownian path).
    """

    surface: Surface
    ell: float

    additive_noise: ClassVar[bool] = False
    gaussian_noise: ClassVar[bool] = False

    def __init__(self, surface: Surface, ell: float):
        self.ell = check_ell(ell)
        self.surface = surface

    @property
    def dim(self) -> int:
        """d of the wrapped surface."""
        return self.surface.dim

    @property
    def noise_dim(self) -> int:
        """r of the wrapped surface."""
        return self.surface.noise_dim

    @property
    def n_train(self) -> int | None:
        """N of the wrapped surface."""
        return self.surface.n_train

    @property
    def resampled_noise(self) -> bool:
        """Whether the wrapped surface redraws its noise factor per step."""
        return self.surface.resampled_noise

    def loss(self, theta: Vector) -> Scalar:
        """The wrapped L(θ)."""
        return self.surface.loss(theta)

    def gradient(self, theta: Vector) -> Vector:
        """The wrapped ∇L(θ) (its closed form where it has one)."""
        return self.surface.gradient(theta)

    def noise_apply(self, theta: Vector, z: NoiseVector, key: Key | None = None) -> Vector:
        """√ℓ·D(θ)z: a factor of ℓ·C(θ), the covariance SVAG's gradient has per unit f."""
        return jnp.sqrt(jnp.asarray(self.ell, theta.dtype)) * self.surface.noise_apply(
            theta, z, key)

    def initial_point(self) -> Vector:
        """The wrapped θ₀."""
        return self.surface.initial_point()

    def parameters(self, theta: Vector) -> Any:
        """The wrapped surface's working form of θ."""
        return self.surface.parameters(theta)

    def flatten(self, parameters: Any) -> Vector:
        """θ from the wrapped surface's working form."""
        return self.surface.flatten(parameters)

    def sampler_state(self) -> tuple[Any, Any]:
        """The states of the two independent samplers."""
        return self.surface.sampler_state(), self.surface.sampler_state()

    def minibatch_gradient(
        self,
        theta: Vector,
        key: Key,
        step: jax.Array,
        state: tuple[Any, Any],
        *,
        batch_size: int,
        n_train: int | None,
        replacement: bool,
    ) -> tuple[Vector, tuple[Any, Any]]:
        """a₁ĝ₁ + a₂ĝ₂ from the wrapped sampler on the streams ``fold_in(key, 1)`` and
        ``fold_in(key, 2)``, and both samplers' next states."""
        first, second = svag_coefficients(self.ell)
        options = dict(batch_size=batch_size, n_train=n_train, replacement=replacement)
        g1, state1 = self.surface.minibatch_gradient(
            theta, jax.random.fold_in(key, 1), step, state[0], **options)
        g2, state2 = self.surface.minibatch_gradient(
            theta, jax.random.fold_in(key, 2), step, state[1], **options)
        return jax.tree_util.tree_map(lambda a, b: first * a + second * b, g1, g2), (
            state1, state2)
