"""SDE models of heavy-ball SGD (docs/theory.md §2), each a drift, a matrix-free diffusion, a
time map and its closed-form stationary covariance on a quadratic, in one registry.

All three are Itô SDEs in a time variable chosen so that one SGD step maps to a fixed SDE time
τ (`time_per_step`); Σ_B^{1/2}dW is realised as √f·D(θ)dW with D Dᵀ = C(θ) and an
r-dimensional Brownian motion W (f the minibatch factor). The noise always enters with the
sign it has in SGD (the step is −ε·ĝ, ĝ = ∇L + √f·D·ξ), i.e. −√f·D(θ)dW: the law is the same
as with +dW, and W's increments over one SGD step, divided by √τ, *are* SGD's ξ_k (coupling).

Each model declares its structure, so a bad combination fails before compilation
(:func:`sgdsde.sde.check_compatible`): `plain_sgd_only` (derived for m = 0 only) and
`commutative_noise` (Itô and Stratonovich solutions coincide, so any general solver is valid).
Adding a model is one new class plus one entry of :data:`SDE_MODELS`.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from . import theory
from ._types import Key, Matrix, NoiseVector, Vector
from ._validation import check_choice
from .surface import Surface


class SDEModel(eqx.Module):
    """An SDE dy = b(y)dt + σ(y)dW approximating SGD, in the state y (θ, or (θ, u))."""

    name: ClassVar[str]
    plain_sgd_only: ClassVar[bool] = False
    commutative_noise: ClassVar[bool] = False

    @abc.abstractmethod
    def time_per_step(self, lr, momentum):
        """τ: the SDE time that corresponds to one SGD update (Python floats in, Python float
        out; jax arrays in, jax array out)."""

    @abc.abstractmethod
    def drift(self, surface: Surface, y: Vector, lr: jax.Array, momentum: jax.Array) -> Vector:
        """b(y)."""

    @abc.abstractmethod
    def diffusion(
        self,
        surface: Surface,
        y: Vector,
        z: NoiseVector,
        lr: jax.Array,
        momentum: jax.Array,
        noise_factor: jax.Array,
        key: Key | None = None,
    ) -> Vector:
        """σ(y)·z for z ∈ R^r (matrix-free); `key` feeds surfaces with resampled noise."""

    @abc.abstractmethod
    def stationary_cov(self, hessian: Matrix, minibatch_cov: Matrix, lr, momentum) -> Matrix:
        """Closed-form stationary covariance of θ on the quadratic with Hessian H and constant
        minibatch gradient-noise covariance S = Σ_B (docs/theory.md §3)."""

    def initial_state(self, theta0: Vector) -> Vector:
        """y₀ = θ₀: the state is θ itself (overridden where it is (θ, u))."""
        return theta0

    def position(self, y: Vector) -> Vector:
        """θ from the state."""
        return y


class FirstOrderSME(SDEModel):
    """First-order SME (Li, Tai & E 2017), weak order 1 in ε, docs/theory.md §2(a):

    dθ = −∇L(θ) dt − √(ε_eff·Σ_B(θ)) dW, ε_eff = ε/(1−m), time t = k·ε_eff after k updates.
    For m > 0 this is the large-friction limit of the underdamped SDE.
    """

    name: ClassVar[str] = "sme1"

    def time_per_step(self, lr, momentum):
        """τ = ε_eff = ε/(1−m): k updates ↦ t = k·ε/(1−m)."""
        return theory.effective_lr(lr, momentum)

    def drift(self, surface, y, lr, momentum):
        """b(θ) = −∇L(θ)."""
        return -surface.gradient(y)

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        """σ(θ)·z = −√(ε_eff·f)·D(θ)z, D Dᵀ = C, so σσᵀ = ε_eff·Σ_B(θ)."""
        scale = jnp.sqrt(self.time_per_step(lr, momentum) * noise_factor)
        return -scale * surface.noise_apply(y, z, key)

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        """H P + P H = ε_eff S (:func:`sgdsde.theory.sme_stationary_cov`)."""
        return theory.sme_stationary_cov(hessian, minibatch_cov, lr, momentum)


class SecondOrderSME(SDEModel):
    """Second-order SME for plain SGD (m = 0; Li, Tai & E), weak order 2, docs/theory.md §2(b):

    dθ = −∇[L + (ε/4)‖∇L‖²] dt − √(ε·Σ_B(θ)) dW, time t = k·ε. The extra drift is
    (ε/2)·∇²L·∇L, one Hessian-vector product (forward over reverse mode).
    """

    name: ClassVar[str] = "sme2"
    plain_sgd_only: ClassVar[bool] = True

    def time_per_step(self, lr, momentum):
        """τ = ε: k updates ↦ t = k·ε (m is not used; the model is for m = 0)."""
        return lr

    def drift(self, surface, y, lr, momentum):
        """b(θ) = −∇L − (ε/2)·∇²L·∇L = −∇[L + (ε/4)‖∇L‖²] (one Hessian-vector product)."""
        gradient, curvature_times_gradient = jax.jvp(surface.gradient, (y,), (surface.gradient(y),))
        return -gradient - 0.5 * lr * curvature_times_gradient

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        """σ(θ)·z = −√(ε·f)·D(θ)z, D Dᵀ = C, so σσᵀ = ε·Σ_B(θ)."""
        return -jnp.sqrt(lr * noise_factor) * surface.noise_apply(y, z, key)

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        """K P + P K = ε S, K = H + (ε/2)H² (:func:`sgdsde.theory.sme2_stationary_cov`)."""
        return theory.sme2_stationary_cov(hessian, minibatch_cov, lr)


class UnderdampedSDE(SDEModel):
    """Phase-space SDE for heavy ball (a derivation, docs/theory.md §2(c)), time t = k (one per
    update):

    dθ = u dt,  du = −(1−m)·u dt − ε∇L(θ) dt − ε·Σ_B(θ)^{1/2} dW,  state y = (θ, u), u₀ = 0,
    with u the optax velocity times −ε. The noise depends on θ only and drives u only, so it
    is commutative and Itô and Stratonovich solutions coincide.
    """

    name: ClassVar[str] = "underdamped"
    commutative_noise: ClassVar[bool] = True

    def time_per_step(self, lr, momentum):
        """τ = 1: k updates ↦ t = k."""
        return 1.0

    def drift(self, surface, y, lr, momentum):
        """b(θ, u) = (u, −(1−m)·u − ε∇L(θ))."""
        theta, u = jnp.split(y, 2)
        return jnp.concatenate([u, -(1.0 - momentum) * u - lr * surface.gradient(theta)])

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        """σ(θ, u)·z = (0, −ε√f·D(θ)z), D Dᵀ = C: the noise −ε·Σ_B^{1/2}dW drives u only."""
        theta, _ = jnp.split(y, 2)
        kick = -lr * jnp.sqrt(noise_factor) * surface.noise_apply(theta, z, key)
        return jnp.concatenate([jnp.zeros_like(kick), kick])

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        """θ block of F P + P Fᵀ + Q = 0 (:func:`sgdsde.theory.underdamped_stationary_cov`)."""
        return theory.underdamped_stationary_cov(hessian, minibatch_cov, lr, momentum)

    def initial_state(self, theta0):
        """y₀ = (θ₀, u₀) with u₀ = 0 (v_0 = 0 in optax form)."""
        return jnp.concatenate([theta0, jnp.zeros_like(theta0)])

    def position(self, y):
        """θ, the first half of y = (θ, u)."""
        return jnp.split(y, 2)[0]


#: Model name (as in configs and the CLI) → model class.
SDE_MODELS: dict[str, type[SDEModel]] = {
    cls.name: cls for cls in (FirstOrderSME, SecondOrderSME, UnderdampedSDE)
}


def sde_model(model: str | SDEModel) -> SDEModel:
    """The model object for a registered name (an :class:`SDEModel` passes through)."""
    if isinstance(model, SDEModel):
        return model
    return SDE_MODELS[check_choice("model", model, SDE_MODELS)]()
