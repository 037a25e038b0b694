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

from collections.abc import Callable

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


def optimal_batch_size(
    lr: ScalarLike, noise: ScalarLike, n_train: ScalarLike, momentum: ScalarLike = 0.0
) -> ScalarLike:
    """The batch size at which the noise scale equals `noise`: B = εN/(ε + g(1−m)), the
    inverse of :func:`noise_scale` in B (docs/theory.md §4: B_opt at the optimum's g_opt)."""
    return lr * n_train / (lr + noise * (1.0 - momentum))


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
    return stable_lr_limit(jnp.linalg.eigvalsh(H)[-1], momentum)


def stable_lr_limit(top_curvature: ScalarLike, momentum: ScalarLike = 0.0) -> ScalarLike:
    """2(1+m)/λ_max: heavy ball is stable iff 0 < ε < this (docs/theory.md §3), given the
    largest curvature λ_max (e.g. max h_i of a diagonal quadratic such as the NQM)."""
    return 2.0 * (1.0 + momentum) / top_curvature


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


# ---- The noisy quadratic model (docs/toolkit.md §NQM; docs/theory.md §8) -----------------------
#
# On L = ½ Σ h_i θ_i² with independent Gaussian gradient noise of variance f·c_i per coordinate,
# every optimiser and SDE below is, per coordinate, a linear recursion x' = A x + ξ in a state
# x = (θ_i, w_i) with E ξ = 0 and Cov ξ = f·c_i·Q, so the second moments M = E[x xᵀ] obey exactly
# M' = A M Aᵀ + f·c_i·Q, and E L = ½ Σ h_i M_θθ,i. Each transition below returns (A, Q), shape
# (..., d, 2, 2): the leading axes of `lr` (a grid of learning rates) broadcast in front.


def _nqm_axes(h: ArrayLike, lr: ArrayLike) -> tuple[Array, Array]:
    h = jnp.asarray(h)
    lr = jnp.asarray(lr, h.dtype)[..., None]
    return h, lr


def _matrix(a00, a01, a10, a11) -> Array:
    a00, a01, a10, a11 = jnp.broadcast_arrays(a00, a01, a10, a11)
    return jnp.stack([jnp.stack([a00, a01], -1), jnp.stack([a10, a11], -1)], -2)


def nqm_sgd_transition(h: ArrayLike, lr: ArrayLike, momentum: ScalarLike = 0.0
                       ) -> tuple[Array, Array]:
    """Heavy ball in the optax form on the NQM, per coordinate, state x = (θ_i, v_i):
    v' = m v + h θ + ξ, θ' = θ − ε v', so A = [[1 − εh, −εm], [h, m]] and ξ enters through
    b = (−ε, 1): Q = b bᵀ (docs/theory.md §8). Exact, not an approximation."""
    h, lr = _nqm_axes(h, lr)
    m = jnp.asarray(momentum, h.dtype)
    transition = _matrix(1.0 - lr * h, -lr * m, h, m)
    noise = _matrix(lr**2, -lr, -lr, jnp.ones_like(lr))
    return transition, jnp.broadcast_to(noise, transition.shape)


def nqm_sme_transition(h: ArrayLike, lr: ArrayLike, momentum: ScalarLike = 0.0
                       ) -> tuple[Array, Array]:
    """The first-order SME dθ = −hθ dt − √(ε_eff f c) dW over one update (τ = ε_eff = ε/(1−m)),
    solved exactly: θ' = e^{−hτ}θ + ξ, Var ξ = f·c·ε_eff(1 − e^{−2hτ})/(2h) (docs/theory.md §2a)."""
    h, lr = _nqm_axes(h, lr)
    tau = effective_lr(lr, jnp.asarray(momentum, h.dtype))
    zero = jnp.zeros_like(h * tau)
    decay = jnp.exp(-h * tau)
    variance = tau * -jnp.expm1(-2.0 * h * tau) / (2.0 * h)
    return _matrix(decay, zero, zero, zero), _matrix(variance, zero, zero, zero)


def nqm_underdamped_transition(h: ArrayLike, lr: ArrayLike, momentum: ScalarLike = 0.0
                               ) -> tuple[Array, Array]:
    """The underdamped SDE dθ = u dt, du = −(1−m)u dt − εhθ dt − ε√(f c) dW over one update
    (τ = 1), solved exactly: A = e^F, F = [[0, 1], [−εh, −(1−m)]], and Q = ∫₀¹ e^{Fs} diag(0, ε²)
    e^{Fᵀs} ds by Van Loan's block exponential (docs/theory.md §2c); state x = (θ_i, u_i)."""
    h, lr = _nqm_axes(h, lr)
    m = jnp.asarray(momentum, h.dtype)
    zero = jnp.zeros_like(h * lr)
    drift = _matrix(zero, zero + 1.0, -lr * h, zero - (1.0 - m))
    source = _matrix(zero, zero, zero, lr**2 + zero)
    block = jnp.concatenate([jnp.concatenate([-drift, source], -1),
                             jnp.concatenate([jnp.zeros_like(drift), jnp.swapaxes(drift, -1, -2)],
                                             -1)], -2)
    exponential = expm(block.reshape(-1, 4, 4)).reshape(block.shape)
    transition = jnp.swapaxes(exponential[..., 2:, 2:], -1, -2)
    noise = transition @ exponential[..., :2, 2:]
    return transition, 0.5 * (noise + jnp.swapaxes(noise, -1, -2))


Moments = tuple[Array, Array, Array]


def _moment_map(transition: Array, noise: Array, h: Array, forcing: Array, theta0: ArrayLike
                ) -> tuple[Callable[[Moments], Moments], Callable[[Moments], Array], Moments]:
    """M' = A M Aᵀ + s Q on the entries x = (M_θθ, M_θw, M_ww) of a symmetric 2×2 M per
    coordinate, written out elementwise (so XLA fuses a step into one loop): the step x ↦ x',
    the expected loss x ↦ ½ Σ h_i M_θθ,i and the start x₀ = (θ₀², 0, 0)."""
    a, b, c, e = (transition[..., 0, 0], transition[..., 0, 1], transition[..., 1, 0],
                  transition[..., 1, 1])
    q00, q01, q11 = (forcing * noise[..., 0, 0], forcing * noise[..., 0, 1],
                     forcing * noise[..., 1, 1])

    coefficients = (a * a, 2 * a * b, b * b, a * c, a * e + b * c, b * e, c * c, 2 * c * e, e * e)

    def step(x: Moments) -> Moments:
        p, q, r = x
        t = coefficients
        return (t[0] * p + t[1] * q + t[2] * r + q00, t[3] * p + t[4] * q + t[5] * r + q01,
                t[6] * p + t[7] * q + t[8] * r + q11)

    def loss(x: Moments) -> Array:
        return 0.5 * jnp.sum(h * x[0], -1)

    start = jnp.broadcast_to(jnp.asarray(theta0, h.dtype) ** 2, a.shape)
    zero = jnp.zeros_like(start)
    return step, loss, (start, zero, zero)


def nqm_expected_loss(transition: Array, noise: Array, h: ArrayLike, c: ArrayLike,
                      theta0: ArrayLike, noise_factor: ScalarLike, steps: int) -> Array:
    """Exact E L after k = 0..`steps` updates on the NQM from θ₀ (w₀ = 0): the moments follow
    M' = A M Aᵀ + f·c·Q from M₀ = diag(θ₀², 0) and E L = ½ Σ h_i M_θθ,i (docs/theory.md §8).
    (A, Q) from :func:`nqm_sgd_transition` (or the SDE transitions); leading axes batch.

    **Returns:** shape (..., steps + 1)."""
    h = jnp.asarray(h)
    step, loss, start = _moment_map(transition, noise, h,
                                    jnp.asarray(noise_factor, h.dtype) * jnp.asarray(c), theta0)

    def body(x, _):
        return step(x), loss(x)

    last, losses = lax.scan(body, start, None, length=steps, unroll=4)
    return jnp.moveaxis(jnp.concatenate([losses, loss(last)[None]], 0), 0, -1)


def nqm_steps_to_target(transition: Array, noise: Array, h: ArrayLike, c: ArrayLike,
                        theta0: ArrayLike, noise_factor: ScalarLike, target: ScalarLike,
                        max_steps: int, first_only: bool = False) -> Array:
    """First k ≤ `max_steps` with E L_k ≤ `target` (the recursion of :func:`nqm_expected_loss`
    run only as long as some entry of the leading axes has not arrived), −1 where the target is
    not reached within `max_steps` (never extrapolated). With `first_only` the recursion stops
    when the first entry arrives (the others stay −1): the fastest ε of a grid, at the cost of
    its own steps only. Shape: the leading axes."""
    h = jnp.asarray(h)
    step, loss, start = _moment_map(transition, noise, h,
                                    jnp.asarray(noise_factor, h.dtype) * jnp.asarray(c), theta0)
    arrived = -jnp.ones(start[0].shape[:-1], jnp.int32)

    def pending(carry):
        k, _, arrived = carry
        waiting = jnp.all(arrived < 0) if first_only else jnp.any(arrived < 0)
        return (k <= max_steps) & waiting

    def body(carry):
        k, x, arrived = carry
        arrived = jnp.where((arrived < 0) & (loss(x) <= target), k, arrived)
        return k + 1, step(x), arrived

    return lax.while_loop(pending, body, (jnp.asarray(0, jnp.int32), start, arrived))[2]


#: The exact NQM transitions by model name: heavy ball itself ("sgd") and its SDE models.
NQM_TRANSITIONS = {
    "sgd": nqm_sgd_transition,
    "sme1": nqm_sme_transition,
    "underdamped": nqm_underdamped_transition,
}
