"""Closed forms for SGD and its SDE models on a quadratic (docs/theory.md §1 and §3).

Quadratic L(θ) = ½(θ−θ*)ᵀH(θ−θ*) with constant minibatch gradient-noise covariance S = Σ_B.
Heavy ball in the optax convention: v_{k+1} = m v_k + ĝ_k, θ_{k+1} = θ_k − ε v_{k+1}, v_0 = 0.
With the velocity u_k = −ε v_k the phase-space state z = (θ − θ*, u) (length 2d) obeys
z_{k+1} = T z_k + b ξ_k, Cov ξ = S.

The scalar formulas (effective learning rate, noise scale, minibatch factor, critical batch
sizes) are plain arithmetic: Python numbers in, Python numbers out, jax arrays in, jax arrays
out; this module is their one owner. The matrix functions are pure jax.numpy (jit-able;
float64 when jax x64 is enabled). The Lyapunov solves are dense Kronecker solves on n²
unknowns (n = d or 2d), meant for the small d of closed-form checks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import block_diag, expm
from jaxtyping import Array, ArrayLike, Float, Int

ScalarLike = float | Float[Array, ""]
StepsLike = int | Int[Array, "*n"]


def effective_lr(lr: ScalarLike, momentum: ScalarLike = 0.0) -> ScalarLike:
    """Effective learning rate ε_eff = ε/(1−m) of heavy ball (docs/theory.md §1)."""
    return lr / (1.0 - momentum)


def noise_scale(
    lr: ScalarLike, batch_size: int, n_train: int, momentum: ScalarLike = 0.0
) -> ScalarLike:
    """Smith & Le noise scale g = ε/(1−m)·(N/B − 1) (docs/theory.md §1)."""
    return effective_lr(lr, momentum) * (n_train / batch_size - 1.0)


def minibatch_noise_factor(
    batch_size: int, n_train: int | None = None, replacement: bool = False
) -> float:
    """Factor f in Σ_B = f·C for the mean gradient of a batch of B examples (docs/theory.md §1).

    f = 1/B with replacement (or when N is not given, i.e. N → ∞), and
    f = (1/B)(N−B)/(N−1) without replacement.
    """
    factor = 1.0 / batch_size
    if n_train is None or replacement:
        return factor
    return factor * (n_train - batch_size) / (n_train - 1.0)


def critical_batch_size(gradient: ArrayLike, cov: ArrayLike,
                         hessian: ArrayLike | None = None) -> dict[str, float]:
    """McCandlish et al. (2018) noise scales (docs/theory.md §8) from the full-batch gradient
    G, the per-example gradient covariance C and optionally the Hessian H:
    B_simple = tr C/‖G‖² and B_noise = tr(HC)/(GᵀHG) (NaN without H): the batch size at which
    the gradient noise of a mean over B examples matches the signal."""
    g = np.asarray(gradient, float).ravel()
    c = np.asarray(cov, float)
    out = {"b_simple": float(np.trace(c) / (g @ g)), "b_noise": float("nan")}
    if hessian is not None:
        h = np.asarray(hessian, float)
        out["b_noise"] = float(np.trace(h @ c) / (g @ h @ g))
    return out


def discrete_lyapunov(A: Float[Array, "n n"], Q: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """Solve P = A P Aᵀ + Q (docs/theory.md §3).

    Kronecker solve with row-major vec: vec(A P Aᵀ) = (A⊗A) vec P, so (I − A⊗A) vec P = vec Q.
    """
    n = A.shape[0]
    dtype = jnp.result_type(A, Q)
    lhs = jnp.eye(n * n, dtype=dtype) - jnp.kron(A, A)
    return jnp.linalg.solve(lhs, jnp.reshape(Q, (n * n,))).reshape(n, n)


def continuous_lyapunov(F: Float[Array, "n n"], Q: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """Solve F P + P Fᵀ + Q = 0 (docs/theory.md §3).

    Kronecker solve with row-major vec: (F⊗I + I⊗F) vec P = −vec Q.
    """
    n = F.shape[0]
    eye = jnp.eye(n, dtype=jnp.result_type(F, Q))
    lhs = jnp.kron(F, eye) + jnp.kron(eye, F)
    return jnp.linalg.solve(lhs, -jnp.reshape(Q, (n * n,))).reshape(n, n)


def _symmetrize(P: Float[Array, "n n"]) -> Float[Array, "n n"]:
    return 0.5 * (P + P.T)


def heavy_ball_transition(
    H: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike
) -> tuple[Float[Array, "2*d 2*d"], Float[Array, "2*d d"]]:
    """Phase-space heavy-ball step z_{k+1} = T z_k + b ξ_k on the quadratic (docs/theory.md §3).

    z = (θ − θ*, u), u = −ε v; T = [[I−εH, mI], [−εH, mI]], b = [−εI; −εI].
    """
    eye = jnp.eye(H.shape[0], dtype=H.dtype)
    T = jnp.block([[eye - lr * H, momentum * eye], [-lr * H, momentum * eye]])
    b = jnp.concatenate([-lr * eye, -lr * eye], axis=0)
    return T, b


def sgd_stationary_phase_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike = 0.0
) -> Float[Array, "2*d 2*d"]:
    """Stationary covariance of z = (θ, u) under discrete heavy-ball SGD (docs/theory.md §3).

    Solves P_z = T P_z Tᵀ + b S bᵀ (T, b from `heavy_ball_transition`); m = 0 is plain SGD.
    """
    T, b = heavy_ball_transition(H, lr, momentum)
    return _symmetrize(discrete_lyapunov(T, b @ S @ b.T))


def sgd_stationary_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike = 0.0
) -> Float[Array, "d d"]:
    """Stationary covariance of θ under discrete heavy-ball SGD: θ block of
    `sgd_stationary_phase_cov` (docs/theory.md §3; for m = 0, P = (I−εH) P (I−εH)ᵀ + ε²S)."""
    d = H.shape[0]
    return sgd_stationary_phase_cov(H, S, lr, momentum)[:d, :d]


def sme_stationary_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike = 0.0
) -> Float[Array, "d d"]:
    """Stationary covariance of the first-order SME dθ = −H(θ−θ*)dt + √(ε_eff S) dW.

    Solves H P + P H = ε_eff S with ε_eff = ε/(1−m) (docs/theory.md §2a, §3).
    """
    return _symmetrize(continuous_lyapunov(-H, effective_lr(lr, momentum) * S))


def sme2_stationary_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike
) -> Float[Array, "d d"]:
    """Stationary covariance of the second-order SME (m = 0; docs/theory.md §2b).

    Drift −∇[L + (ε/4)‖∇L‖²] = −K(θ−θ*) with K = H + (ε/2)H², diffusion √(ε S):
    solves K P + P Kᵀ = ε S.
    """
    K = H + 0.5 * lr * H @ H
    return _symmetrize(continuous_lyapunov(-K, lr * S))


def _underdamped_drift(
    H: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike
) -> Float[Array, "2*d 2*d"]:
    eye = jnp.eye(H.shape[0], dtype=H.dtype)
    return jnp.block([[jnp.zeros_like(H), eye], [-lr * H, -(1.0 - momentum) * eye]])


def underdamped_stationary_phase_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike
) -> Float[Array, "2*d 2*d"]:
    """Stationary covariance of z = (θ, u) under the underdamped SDE (docs/theory.md §2c, §3).

    dθ = u dt, du = −(1−m)u dt − εH(θ−θ*) dt − ε S^{1/2} dW (time t = step count):
    solves F P + P Fᵀ + Q = 0, F = [[0, I], [−εH, −(1−m)I]], Q = diag(0, ε²S).
    """
    F = _underdamped_drift(H, lr, momentum)
    Q = block_diag(jnp.zeros_like(S), lr**2 * S)
    return _symmetrize(continuous_lyapunov(F, Q))


def underdamped_stationary_cov(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike
) -> Float[Array, "d d"]:
    """θ block of `underdamped_stationary_phase_cov` (docs/theory.md §3; equals the first-order SME
    covariance ε_eff S H⁻¹/2 when H and S commute)."""
    d = H.shape[0]
    return underdamped_stationary_phase_cov(H, S, lr, momentum)[:d, :d]


def _map_steps(fn, steps: StepsLike, d: int) -> Float[Array, "*n d"]:
    k = jnp.asarray(steps)
    return jax.vmap(fn)(k.reshape(-1)).reshape(k.shape + (d,))


def _power_apply(
    M: Float[Array, "n n"], k: Int[Array, ""], z: Float[Array, " n"]
) -> Float[Array, " n"]:
    """M^k z for a traced integer k ≥ 0 by binary exponentiation (one squaring per bit)."""

    def body(_, carry):
        z, base, k = carry
        z = jnp.where(k % 2 == 1, base @ z, z)
        return z, base @ base, k // 2

    return lax.fori_loop(0, jnp.iinfo(k.dtype).bits - 1, body, (z, M, k))[0]


def sgd_mean(
    H: Float[Array, "d d"],
    theta_star: Float[Array, " d"],
    theta0: Float[Array, " d"],
    lr: ScalarLike,
    momentum: ScalarLike,
    steps: StepsLike,
) -> Float[Array, "*n d"]:
    """Exact mean E θ_k of heavy-ball SGD on the quadratic (docs/theory.md §3).

    z_k = T^k z_0 with z_0 = (θ_0 − θ*, 0) (v_0 = 0); E θ_k = θ* + first block of z_k.
    `steps` is an int (result (d,)) or an int array of shape (n,) (result (n, d)).
    """
    d = H.shape[0]
    T, _ = heavy_ball_transition(H, lr, momentum)
    z0 = jnp.concatenate([theta0 - theta_star, jnp.zeros_like(theta0)])
    return _map_steps(lambda k: theta_star + _power_apply(T, k, z0)[:d], steps, d)


def sme_mean(
    H: Float[Array, "d d"],
    theta_star: Float[Array, " d"],
    theta0: Float[Array, " d"],
    lr: ScalarLike,
    momentum: ScalarLike,
    steps: StepsLike,
) -> Float[Array, "*n d"]:
    """Mean of the first-order SME after k steps (time t = k ε_eff, docs/theory.md §2a, §3).

    E θ(t) = θ* + expm(−H t)(θ_0 − θ*); same `steps` shapes as `sgd_mean`.
    """
    t_per_step = effective_lr(lr, momentum)
    return _map_steps(
        lambda k: theta_star + expm(-H * (k * t_per_step)) @ (theta0 - theta_star),
        steps,
        H.shape[0],
    )


def underdamped_mean(
    H: Float[Array, "d d"],
    theta_star: Float[Array, " d"],
    theta0: Float[Array, " d"],
    lr: ScalarLike,
    momentum: ScalarLike,
    steps: StepsLike,
) -> Float[Array, "*n d"]:
    """Mean of θ under the underdamped SDE after k steps (time t = k, docs/theory.md §2c, §3).

    E z(t) = expm(F t) z_0, F = [[0, I], [−εH, −(1−m)I]], z_0 = (θ_0 − θ*, 0); returns θ* + θ
    block. Same `steps` shapes as `sgd_mean`.
    """
    d = H.shape[0]
    F = _underdamped_drift(H, lr, momentum)
    z0 = jnp.concatenate([theta0 - theta_star, jnp.zeros_like(theta0)])
    return _map_steps(lambda k: theta_star + (expm(F * k) @ z0)[:d], steps, d)


def max_stable_lr(H: Float[Array, "d d"], momentum: ScalarLike = 0.0) -> Float[Array, ""]:
    """Largest stable heavy-ball learning rate on the quadratic, ε < 2(1+m)/λ_max(H) for |m| < 1
    (spectral radius of T below 1; docs/theory.md §3)."""
    return 2.0 * (1.0 + jnp.asarray(momentum)) / jnp.linalg.eigvalsh(H)[-1]


def relative_stationary_gap(
    H: Float[Array, "d d"], S: Float[Array, "d d"], lr: ScalarLike, momentum: ScalarLike = 0.0
) -> Float[Array, ""]:
    """SGD–SDE stationary gap ‖P_sgd − P_sme‖_F / ‖P_sme‖_F (docs/theory.md §3).

    P_sgd from `sgd_stationary_cov`, P_sme from `sme_stationary_cov`; in 1-D it equals
    1/(1 − εh/(2(1+m))) − 1 = O(ε).
    """
    p_sgd = sgd_stationary_cov(H, S, lr, momentum)
    p_sme = sme_stationary_cov(H, S, lr, momentum)
    return jnp.linalg.norm(p_sgd - p_sme) / jnp.linalg.norm(p_sme)
