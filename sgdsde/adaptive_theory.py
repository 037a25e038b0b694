"""Closed forms for the RMSprop and Adam SDEs on a quadratic (docs/adaptive.md §2–3).

Quadratic L = ½(θ−θ*)ᵀH(θ−θ*) with constant minibatch covariance S = Σ_B = f·C. Then diag C is
constant, so the second moment of each SDE is deterministic, and given it the SDE is linear in
θ (RMSprop) or in (θ, m) (Adam). In the optimiser's own units (ν = f·u, time t = kε²):

- RMSprop: ν(t) = s + (ν₀ − s)e^{−ct}, s = diag S, c = (1−β)/ε², ν̂ = ν/(1 − e^{−ct}) with bias
  correction; P(t) = ε√(ν̂ + δ); dθ = −P⁻¹H(θ−θ*)dt − εP⁻¹S^{1/2}dW.
- Adam: ν̂ ≡ s exactly (ν₀ = 0 and bias correction), P̄ = ε(√(s + δ_r) + δ);
  z = (θ−θ*, m): dz = F(t)z dt + G dW, F = [[0, −P̄⁻¹/γ₁(t)], [c₁H, −c₁I]], γ₁ = 1 − e^{−c₁t},
  GGᵀ = diag(0, c₁²ε²S).

:func:`adaptive_moments` integrates the exact mean and covariance ODEs (μ' = Fμ,
Σ' = FΣ + ΣFᵀ + GGᵀ) with Tsit5 at tight tolerances: an independent reference for the SDE
integrator and for the discrete ensembles. At stationarity both SDEs give, for any H and S
(commuting or not), E L_∞ = (ε²/4) Σᵢ S_ii / P_i (:func:`adaptive_stationary_loss`).
"""

from __future__ import annotations

import diffrax
import jax.numpy as jnp
from jax.scipy.linalg import block_diag
from jaxtyping import Array, ArrayLike, Float

from .optimizers import Adam, Optimizer, RMSprop
from .theory import continuous_lyapunov


def stationary_preconditioner(
    S: Float[Array, "d d"], lr: float, optimizer: Optimizer
) -> Float[Array, " d"]:
    """P at stationarity (ν̂ = diag S): RMSprop ε√(diag S + δ), Adam ε(√(diag S + δ_r) + δ)."""
    s = jnp.diag(S)
    if isinstance(optimizer, RMSprop):
        return lr * jnp.sqrt(s + optimizer.eps)
    if isinstance(optimizer, Adam):
        return lr * (jnp.sqrt(s + optimizer.eps_root) + optimizer.eps)
    raise TypeError(f"no adaptive SDE for optimizer {optimizer.name!r}")


def _linear_sde(H, S, lr, optimizer, t):
    """(F(t), GGᵀ(t)) of the SDE on the quadratic, in the state θ−θ* (RMSprop) or (θ−θ*, m)."""
    tau = lr * lr
    if isinstance(optimizer, RMSprop):
        s, c = jnp.diag(S), (1.0 - optimizer.decay) / tau
        weight = -jnp.expm1(-c * t)  # 1 − e^{−ct}, exact near t = 0
        nu = s * weight + optimizer.initial_scale * jnp.exp(-c * t)
        if optimizer.bias_correction:
            nu = nu / weight
        inverse = 1.0 / (lr * jnp.sqrt(nu + optimizer.eps))
        return -inverse[:, None] * H, tau * inverse[:, None] * S * inverse[None, :]
    c1 = (1.0 - optimizer.b1) / tau
    inverse = 1.0 / (stationary_preconditioner(S, lr, optimizer) * -jnp.expm1(-c1 * t))
    d = H.shape[0]
    F = jnp.block([[jnp.zeros_like(H), -jnp.diag(inverse)], [c1 * H, -c1 * jnp.eye(d)]])
    return F, block_diag(jnp.zeros_like(S), c1 * c1 * tau * S)


def adaptive_moments(
    H: Float[Array, "d d"],
    S: Float[Array, "d d"],
    theta0: ArrayLike,
    theta_star: ArrayLike,
    lr: float,
    optimizer: Optimizer,
    times: ArrayLike,
) -> tuple[Float[Array, "n d"], Float[Array, "n d d"]]:
    """Exact E θ(t) and Cov θ(t) of the RMSprop or Adam SDE on the quadratic (module
    docstring) at SDE times `times` (> 0), from θ(0) = `theta0`.

    Adam's coefficient 1/γ₁(t) ~ 1/(c₁t) is integrable: the ODE starts at t₀ = 10⁻¹²·T with
    the series m(t₀) = c₁H(θ₀−θ*)t₀. Tsit5, rtol 10⁻¹⁰."""
    times = jnp.asarray(times)
    d = H.shape[0]
    delta = jnp.asarray(theta0) - jnp.asarray(theta_star)
    t0 = 1e-12 * float(times.max())
    if isinstance(optimizer, Adam):
        c1 = (1.0 - optimizer.b1) / (lr * lr)
        mean0 = jnp.concatenate([delta, c1 * (H @ delta) * t0])
    else:
        mean0 = delta
    n = mean0.shape[0]

    def rhs(t, state, args):
        mean, cov = state
        F, Q = _linear_sde(H, S, lr, optimizer, t)
        return F @ mean, F @ cov + cov @ F.T + Q

    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), diffrax.Tsit5(), t0=t0, t1=times.max(), dt0=t0,
        y0=(mean0, jnp.zeros((n, n), mean0.dtype)), saveat=diffrax.SaveAt(ts=times),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-13), max_steps=100_000,
    )
    mean, cov = solution.ys
    return mean[:, :d] + jnp.asarray(theta_star), cov[:, :d, :d]


def adaptive_stationary_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: float, optimizer: Optimizer
) -> Float[Array, "d d"]:
    """Stationary Cov θ of the SDE: RMSprop A X + X Aᵀ = ε²P⁻¹SP⁻¹ with A = P⁻¹H; Adam the θ
    block of F X + X Fᵀ + GGᵀ = 0 with γ₁ = 1 (module docstring)."""
    F, Q = _linear_sde(H, S, lr, optimizer, jnp.inf)
    cov = continuous_lyapunov(F, Q)
    d = H.shape[0]
    return 0.5 * (cov + cov.T)[:d, :d]


def adaptive_stationary_loss(
    S: Float[Array, "d d"], lr: float, optimizer: Optimizer
) -> Float[Array, ""]:
    """E L_∞ = ½ tr(H X) = (ε²/4) Σᵢ S_ii/P_i for both SDEs and every H (docs/adaptive.md §3:
    multiply the stationary Lyapunov equation by P on the left and take the trace). As δ → 0
    it is (ε/4) Σᵢ √S_ii: set by the per-coordinate gradient noise, not by the curvature."""
    return 0.25 * lr * lr * jnp.sum(jnp.diag(S) / stationary_preconditioner(S, lr, optimizer))


def _expected_loss(H, mean, cov, theta_star):
    """E L = ½(μ−θ*)ᵀH(μ−θ*) + ½ tr(H Σ) for each saved time."""
    delta = mean - theta_star
    return 0.5 * (jnp.einsum("ti,ij,tj->t", delta, H, delta) + jnp.einsum("ij,tji->t", H, cov))


def adaptive_expected_loss(
    H: Float[Array, "d d"], S: Float[Array, "d d"], theta0: ArrayLike, theta_star: ArrayLike,
    lr: float, optimizer: Optimizer, times: ArrayLike,
) -> Float[Array, " n"]:
    """E L(θ(t)) of the SDE at `times`, from :func:`adaptive_moments`."""
    mean, cov = adaptive_moments(H, S, theta0, theta_star, lr, optimizer, times)
    return _expected_loss(H, mean, cov, jnp.asarray(theta_star))


__all__ = ["adaptive_expected_loss", "adaptive_moments", "adaptive_stationary_cov",
           "adaptive_stationary_loss", "stationary_preconditioner"]

