"""The one interface every loss surface offers to both simulators (docs/theory.md §1–2).

It lives in the engine's layer because both engines are written against it; the concrete
surfaces (quadratic, double well, learned) are in :mod:`sgdsde.surfaces`.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._types import Key, NoiseVector, Scalar, Vector
from .theory import minibatch_noise_factor


class Surface(eqx.Module):
    """A loss L(θ) on flat parameters θ ∈ R^d together with its gradient-noise model.

    Convention (docs/theory.md §1): L is the *mean* per-example loss and C(θ) the per-example
    gradient covariance. The noise model is a factor D(θ): R^r → R^d with D Dᵀ = C(θ), applied
    matrix-free by :meth:`noise_apply`, so that Σ_B^{1/2} dW = √f·D(θ) dW with an
    r-dimensional Brownian motion and f the minibatch factor (1/B, or (1/B)(N−B)/(N−1)).

    Declared structure (checked before compilation):

    - `additive_noise`: C does not depend on θ (additive-noise SDE solvers are valid).
    - `gaussian_noise`: the minibatch gradient *is* ∇L + √f·D z with z ~ N(0, I_r), so SGD
      can be driven by the same Brownian increments as the SDE (coupled runs).
    """

    additive_noise: eqx.AbstractClassVar[bool]
    gaussian_noise: eqx.AbstractClassVar[bool]

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """d, the number of parameters."""

    @property
    @abc.abstractmethod
    def noise_dim(self) -> int:
        """r, the dimension of the Brownian motion driving the noise."""

    @property
    def n_train(self) -> int | None:
        """The training-set size N fixed by the surface, or None (synthetic: any N)."""
        return None

    @abc.abstractmethod
    def loss(self, theta: Vector) -> Scalar:
        """Mean loss L(θ)."""

    @abc.abstractmethod
    def noise_apply(self, theta: Vector, z: NoiseVector, key: Key | None = None) -> Vector:
        """D(θ)·z with D(θ) D(θ)ᵀ = C(θ), the per-example gradient covariance.

        `key` is used only by surfaces with `resampled_noise` (a fresh random factor per
        solver step, with E[D Dᵀ] = C); the SDE engine passes one key per step."""

    @property
    def resampled_noise(self) -> bool:
        """Whether D(θ) is drawn afresh per step (unbiased only for one diffusion evaluation
        per step, so such surfaces need the Euler solver)."""
        return False

    @abc.abstractmethod
    def initial_point(self) -> Vector:
        """The default starting point θ₀ of both simulators."""

    def gradient(self, theta: Vector) -> Vector:
        """∇L(θ) by reverse-mode autodiff."""
        return jax.grad(self.loss)(theta)

    def gaussian_minibatch_gradient(
        self, theta: Vector, z: NoiseVector, noise_factor: jax.Array
    ) -> Vector:
        """ĝ = ∇L(θ) + √f·D(θ)z: the Gaussian noise model, with z ~ N(0, I_r) supplied."""
        return self.gradient(theta) + jnp.sqrt(noise_factor) * self.noise_apply(theta, z)

    def parameters(self, theta: Vector) -> Any:
        """θ in the form the discrete engine carries from step to step and
        :meth:`minibatch_gradient` works on: θ itself by default; a surface of a network gives
        its parameter pytree, so that an update touches each array in place instead of
        cutting a flat vector apart at every step. Linear, inverted by :meth:`flatten`."""
        return theta

    def flatten(self, parameters: Any) -> Vector:
        """θ from the form of :meth:`parameters`."""
        return parameters

    def sampler_state(self) -> Any:
        """Initial state the minibatch sampler carries from step to step (none by default)."""
        return None

    def minibatch_gradient(
        self,
        theta: Vector,
        key: Key,
        step: jax.Array,
        state: Any,
        *,
        batch_size: int,
        n_train: int | None,
        replacement: bool,
    ) -> tuple[Vector, Any]:
        """One minibatch gradient ĝ at SGD step `step`, E ĝ = ∇L and Cov ĝ = Σ_B = f·C(θ),
        and the sampler's next state. `theta` and ĝ are in the form of :meth:`parameters`
        (for a flat θ: ``flatten(minibatch_gradient(parameters(θ), ...)[0])``).

        `key` is the path's minibatch stream. The default is the Gaussian model with
        z = normal(fold_in(key, step)); surfaces built on a dataset override this with real
        sampling of examples (shuffled epochs drawn from `key`, carried in `state`).
        """
        z = jax.random.normal(jax.random.fold_in(key, step), (self.noise_dim,), theta.dtype)
        factor = minibatch_noise_factor(batch_size, n_train, replacement)
        return self.gaussian_minibatch_gradient(theta, z, factor), state
