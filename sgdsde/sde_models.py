"""SDE models of heavy-ball SGD (docs/theory.md §2), each a drift, a matrix-free diffusion, a
time map and its closed-form stationary covariance on a quadratic, in one registry.

All three are Itô SDEs in a time variable chosen so that one SGD step maps to a fixed SDE time
τ (`time_per_step`); Σ_B^{1/2}dW is realised as √f·D(θ)dW with D Dᵀ = C(θ) and an
r-dimensional Brownian motion W (f the minibatch factor). The noise always enters with the
sign it has in SGD (the step is −ε·ĝ, ĝ = ∇L + √f·D·ξ), i.e. −√f·D(θ)dW: the law is the same
as with +dW, and W's increments over one SGD step, divided by √τ, *are* SGD's ξ_k (coupling).

Each model declares its structure, so a bad combination fails before compilation
(:func:`sgdsde.sde.check_compatible`): `plain_sgd_only` (derived for m = 0 only),
`commutative_noise` (Itô and Stratonovich solutions coincide, so any general solver is valid),
`approximates` (the optax optimiser it is derived for), `multiplicative_noise` (the diffusion
depends on the model's own state, so it is never additive) and `exact_noise_only` (the drift
needs diag C(θ), which a random-subset noise factor cannot give). A model whose coefficients
depend on the optimiser's hyper-parameters is specialised to a run by :meth:`SDEModel.bind`.
Adding a model is one new class plus one entry of :data:`SDE_MODELS`.

The adaptive models (RMSprop, Adam; Malladi, Lyu, Panigrahi & Arora 2022, docs/adaptive.md §2)
run in the time t = k·ε² and carry optax's moments in their state; their bias corrections
1 − β^k are carried as the state variables γ with dγ = c(1 − γ)dt, γ(0) = 0 (so γ(t) =
1 − e^{−ct}, and Euler with dt = ε² reproduces 1 − β^k exactly), which keeps every model
autonomous.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from . import adaptive_theory, theory
from ._types import Key, Matrix, NoiseVector, Vector
from ._validation import check_choice
from .errors import IncompatibleChoiceError
from .optimizers import Adam, RMSprop
from .surface import Surface

if TYPE_CHECKING:
    from .config import RunConfig


class SDEModel(eqx.Module):
    """An SDE dy = b(y)dt + σ(y)dW approximating SGD, in the state y (θ, or (θ, u))."""

    name: ClassVar[str]
    plain_sgd_only: ClassVar[bool] = False
    commutative_noise: ClassVar[bool] = False
    approximates: ClassVar[str] = "sgd"
    multiplicative_noise: ClassVar[bool] = False
    exact_noise_only: ClassVar[bool] = False

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

    def bind(self, run: RunConfig) -> SDEModel:
        """This model specialised to `run` (its optimiser's hyper-parameters and minibatch
        factor f); the SGD models need nothing and return themselves. Called once by
        :func:`sgdsde.sde.setup_sde`, before compilation; raises
        :class:`~sgdsde.errors.IncompatibleChoiceError` when the run has no limit of this
        model."""
        return self


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


def noise_diagonal(surface: Surface, theta: Vector) -> Vector:
    """diag C(θ): the variance of the per-example gradients when the surface offers them
    (``per_example_gradients``, one pass over the N examples), else Σ_k (D(θ)e_k)² over the r
    noise directions (one noise product per direction)."""
    per_example = getattr(surface, "per_example_gradients", None)
    if per_example is not None:
        gradients = per_example(theta)
        return jnp.mean((gradients - gradients.mean(0)) ** 2, axis=0)
    basis = jnp.eye(surface.noise_dim, dtype=theta.dtype)
    columns = jax.vmap(lambda e: surface.noise_apply(theta, e))(basis)
    return jnp.sum(columns**2, axis=0)


def bias_corrected(moment: Vector, weight: jax.Array, limit: Vector) -> Vector:
    """moment/γ, with its limit `limit` at γ = 0 (t = 0, where both vanish)."""
    positive = weight > 0
    return jnp.where(positive, moment / jnp.where(positive, weight, 1.0), limit)


class RMSpropSDE(SDEModel):
    """SDE of ``optax.rmsprop`` (eps inside the root; Malladi et al. 2022, a derivation in
    docs/adaptive.md §2), weak order 1 in τ = ε² for Gaussian noise, time t = k·ε²:

    dθ = −P⁻¹[∇L(θ) dt + σ₀ D(θ) dW],  du = c[diag C(θ) − u] dt,  dγ = c(1 − γ) dt,
    P = diag √(σ₀² û + ε²δ),  û = u/γ with bias correction (else û = u),

    σ₀ = ε√f, c = (1−β)/ε², u = ν/f (optax's ν normalised by f), u₀ = ν₀/f, γ₀ = 0, state
    y = (θ, u, γ). The noise enters θ only; u is driven by the noise through its drift
    E[ĝ²]/f → diag C. Needs ν₀ > 0 or bias correction: optax's default (ν₀ = 0, none) has no
    ε-independent limit (docs/adaptive.md §4).
    """

    name: ClassVar[str] = "rmsprop"
    approximates: ClassVar[str] = "rmsprop"
    multiplicative_noise: ClassVar[bool] = True
    exact_noise_only: ClassVar[bool] = True
    optimizer: RMSprop = RMSprop(bias_correction=True)
    noise_factor: float = 1.0

    def bind(self, run):
        """The run's ``optax.rmsprop`` hyper-parameters and f; refuses ν₀ = 0 without bias
        correction (no SDE limit)."""
        optimizer = run.optimizer
        if optimizer.initial_scale == 0.0 and not optimizer.bias_correction:
            raise IncompatibleChoiceError(
                "model='rmsprop' needs optax.rmsprop with initial_scale > 0 or "
                "bias_correction=True: with optax's defaults (initial_scale=0, no bias "
                "correction) the first steps have size lr/sqrt(1-decay) and the discrete "
                "process has no SDE limit (docs/adaptive.md §4)",
                names=("initial_scale", "bias_correction"))
        return RMSpropSDE(optimizer, run.noise_factor)

    def time_per_step(self, lr, momentum):
        """τ = ε²: k updates ↦ t = k·ε²."""
        return lr * lr

    def _split(self, y):
        d = (y.shape[0] - 1) // 2
        return y[:d], y[d:2 * d], y[2 * d]

    def _preconditioner(self, surface, theta, u, weight, lr):
        """P = √(σ₀² û + ε²δ) = ε√(f·û + δ)."""
        if self.optimizer.bias_correction:
            u = bias_corrected(u, weight, noise_diagonal(surface, theta))
        return lr * jnp.sqrt(self.noise_factor * u + self.optimizer.eps)

    def drift(self, surface, y, lr, momentum):
        """(−P⁻¹∇L, c(diag C − u), c(1 − γ))."""
        theta, u, weight = self._split(y)
        rate = (1.0 - self.optimizer.decay) / (lr * lr)
        preconditioner = self._preconditioner(surface, theta, u, weight, lr)
        return jnp.concatenate([-surface.gradient(theta) / preconditioner,
                                rate * (noise_diagonal(surface, theta) - u),
                                (rate * (1.0 - weight))[None]])

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        """(−σ₀P⁻¹D(θ)z, 0, 0)."""
        theta, u, weight = self._split(y)
        sigma0 = lr * jnp.sqrt(self.noise_factor)
        kick = -sigma0 * surface.noise_apply(theta, z, key)
        kick = kick / self._preconditioner(surface, theta, u, weight, lr)
        return jnp.concatenate([kick, jnp.zeros_like(u), jnp.zeros((1,), y.dtype)])

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        """A X + X Aᵀ = ε²P⁻¹SP⁻¹, A = P⁻¹H, P = ε√(diag S + δ)
        (:func:`sgdsde.adaptive_theory.adaptive_stationary_cov`)."""
        return adaptive_theory.adaptive_stationary_cov(hessian, minibatch_cov, lr,
                                                       self.optimizer)

    def initial_state(self, theta0):
        """y₀ = (θ₀, ν₀/f, 0)."""
        u0 = jnp.full_like(theta0, self.optimizer.initial_scale / self.noise_factor)
        return jnp.concatenate([theta0, u0, jnp.zeros((1,), theta0.dtype)])

    def position(self, y):
        """θ, the first d entries of y = (θ, u, γ)."""
        return self._split(y)[0]


class AdamSDE(SDEModel):
    """SDE of ``optax.adam`` (Malladi et al. 2022, a derivation in docs/adaptive.md §2), weak
    order 1 in τ = ε² for Gaussian noise (up to a logarithm from the bias correction), time
    t = k·ε²:

    dθ = −m̂ ⊘ (√(σ₀² û + ε²δ_r) + εδ) dt,  m̂ = m/γ₁,  û = u/γ₂,
    dm = c₁[∇L(θ) − m] dt + c₁σ₀ D(θ) dW,  du = c₂[diag C(θ) − u] dt,  dγᵢ = cᵢ(1 − γᵢ) dt,

    σ₀ = ε√f, cᵢ = (1−βᵢ)/ε², u = ν/f, state y = (θ, m, u, γ₁, γ₂) from (θ₀, 0, 0, 0, 0); at
    t = 0 the ratios take their limits m̂ = ∇L(θ₀), û = diag C(θ₀). The noise enters the first
    moment m only; θ integrates the filtered noise (no dW term).
    """

    name: ClassVar[str] = "adam"
    approximates: ClassVar[str] = "adam"
    exact_noise_only: ClassVar[bool] = True
    optimizer: Adam = Adam()
    noise_factor: float = 1.0

    def bind(self, run):
        """The run's ``optax.adam`` hyper-parameters and f."""
        return AdamSDE(run.optimizer, run.noise_factor)

    def time_per_step(self, lr, momentum):
        """τ = ε²: k updates ↦ t = k·ε²."""
        return lr * lr

    def _split(self, y):
        d = (y.shape[0] - 2) // 3
        return y[:d], y[d:2 * d], y[2 * d:3 * d], y[3 * d], y[3 * d + 1]

    def drift(self, surface, y, lr, momentum):
        """(−m̂/(√(σ₀²û + ε²δ_r) + εδ), c₁(∇L − m), c₂(diag C − u), c₁(1 − γ₁), c₂(1 − γ₂))."""
        theta, m, u, weight1, weight2 = self._split(y)
        tau = lr * lr
        rate1, rate2 = (1.0 - self.optimizer.b1) / tau, (1.0 - self.optimizer.b2) / tau
        gradient, diagonal = surface.gradient(theta), noise_diagonal(surface, theta)
        m_hat = bias_corrected(m, weight1, gradient)
        u_hat = bias_corrected(u, weight2, diagonal)
        denominator = (jnp.sqrt(tau * (self.noise_factor * u_hat + self.optimizer.eps_root))
                       + lr * self.optimizer.eps)
        rates = jnp.stack([rate1 * (1.0 - weight1), rate2 * (1.0 - weight2)])
        return jnp.concatenate([-m_hat / denominator, rate1 * (gradient - m),
                                rate2 * (diagonal - u), rates])

    def diffusion(self, surface, y, z, lr, momentum, noise_factor, key=None):
        """(0, c₁σ₀D(θ)z, 0, 0, 0) with the sign of SGD's noise: c₁ times ε ĝ's noise part."""
        theta, m, u, _, _ = self._split(y)
        rate1 = (1.0 - self.optimizer.b1) / (lr * lr)
        kick = rate1 * lr * jnp.sqrt(self.noise_factor) * surface.noise_apply(theta, z, key)
        return jnp.concatenate([jnp.zeros_like(theta), kick, jnp.zeros_like(u),
                                jnp.zeros((2,), y.dtype)])

    def stationary_cov(self, hessian, minibatch_cov, lr, momentum):
        """θ block of F X + X Fᵀ + GGᵀ = 0 for z = (θ, m)
        (:func:`sgdsde.adaptive_theory.adaptive_stationary_cov`)."""
        return adaptive_theory.adaptive_stationary_cov(hessian, minibatch_cov, lr,
                                                       self.optimizer)

    def initial_state(self, theta0):
        """y₀ = (θ₀, 0, 0, 0, 0): optax's zero moments."""
        return jnp.concatenate([theta0, jnp.zeros(2 * theta0.shape[0] + 2, theta0.dtype)])

    def position(self, y):
        """θ, the first d entries of y = (θ, m, u, γ₁, γ₂)."""
        return self._split(y)[0]


#: Model name (as in configs and the CLI) → model class.
SDE_MODELS: dict[str, type[SDEModel]] = {
    cls.name: cls for cls in (FirstOrderSME, SecondOrderSME, UnderdampedSDE, RMSpropSDE,
                              AdamSDE)
}


def sde_model(model: str | SDEModel) -> SDEModel:
    """The model object for a registered name (an :class:`SDEModel` passes through)."""
    if isinstance(model, SDEModel):
        return model
    return SDE_MODELS[check_choice("model", model, SDE_MODELS)]()
