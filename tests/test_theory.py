"""Closed forms of sgdsde.theory against independent computations.

References used here never call sgdsde.theory: scipy's Lyapunov solvers and expm, scipy's ODE
solver, hand-derived 1-D formulas (docs/theory.md §3), numpy Monte Carlo of the optax-form
recursion, numpy eigenvalues, and exact enumeration of minibatches.
"""

import itertools
import math

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.linalg  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from sgdsde import NoisyQuadratic, theory  # noqa: E402

# Direct dense solves of well-conditioned systems (condition numbers asserted or ≲ 1e4 below):
# backward error ~ 1e-16, forward error ≲ κ·1e-16 ≲ 1e-12, so rtol 1e-10 leaves margin.
SOLVE_RTOL = 1e-10


def _orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@pytest.fixture(scope="module")
def noncommuting() -> tuple[np.ndarray, np.ndarray]:
    """3-D SPD H and S that are not simultaneously diagonalisable."""
    rng = np.random.default_rng(20240611)
    q1, q2 = _orthogonal(rng, 3), _orthogonal(rng, 3)
    H = q1 @ np.diag([0.5, 1.5, 4.0]) @ q1.T
    S = q2 @ np.diag([2.0, 0.5, 0.1]) @ q2.T
    commutator = np.linalg.norm(H @ S - S @ H) / (np.linalg.norm(H) * np.linalg.norm(S))
    assert commutator > 0.1
    return H, S


def _np_transition(H: np.ndarray, lr: float, m: float) -> tuple[np.ndarray, np.ndarray]:
    """Phase-space map of z = (θ−θ*, u), u = −εv, written out from the optax update."""
    eye = np.eye(H.shape[0])
    T = np.block([[eye - lr * H, m * eye], [-lr * H, m * eye]])
    b = np.vstack([-lr * eye, -lr * eye])
    return T, b


# ---------------------------------------------------------------- 1. Lyapunov solvers


def test_lyapunov_solvers_match_scipy():
    rng = np.random.default_rng(0)
    n = 5
    A = rng.standard_normal((n, n))
    A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))  # non-symmetric, spectral radius 0.9
    F = rng.standard_normal((n, n))
    F -= (np.max(np.linalg.eigvals(F).real) + 0.5) * np.eye(n)  # Hurwitz, margin 0.5
    Q_general = rng.standard_normal((n, n))
    G = rng.standard_normal((n, n))
    for Q in (Q_general, G @ G.T):
        assert np.linalg.cond(np.eye(n * n) - np.kron(A, A)) < 1e4
        assert np.linalg.cond(np.kron(F, np.eye(n)) + np.kron(np.eye(n), F)) < 1e4
        P = theory.discrete_lyapunov(jnp.asarray(A), jnp.asarray(Q))
        np.testing.assert_allclose(
            P, scipy.linalg.solve_discrete_lyapunov(A, Q), rtol=SOLVE_RTOL, atol=0
        )
        P = theory.continuous_lyapunov(jnp.asarray(F), jnp.asarray(Q))
        # scipy solves F X + X Fᴴ = Q, ours F P + P Fᵀ + Q = 0.
        np.testing.assert_allclose(
            P, scipy.linalg.solve_continuous_lyapunov(F, -Q), rtol=SOLVE_RTOL, atol=0
        )
        assert P.dtype == jnp.float64


# ---------------------------------------------------------------- 2. 1-D closed forms

ONE_D = [  # (ε, h, m, s), all with εh < 2(1+m)
    (0.1, 1.0, 0.0, 1.0),
    (0.9, 2.0, 0.0, 0.5),  # εh = 1.8, close to the m = 0 limit 2
    (0.2, 2.0, 0.5, 1.5),
    (0.05, 3.0, 0.9, 2.0),
    (0.5, 6.0, 0.9, 1.0),  # εh = 3 against the limit 3.8
    (0.1, 1.0, -0.3, 1.0),
]


@pytest.mark.parametrize(("lr", "h", "m", "s"), ONE_D)
def test_one_d_closed_forms(lr, h, m, s):
    H, S = jnp.array([[h]]), jnp.array([[s]])
    P = theory.sgd_stationary_phase_cov(H, S, lr, m)
    # docs/theory.md §3 (re-derived: θ' = θ + u' gives Cov(θ,u) = Var u / 2 and
    # Var θ = (1+m) Var u / (2εh); the u-equation then fixes Var u).
    denom = (1 - m) * (2 * (1 + m) - lr * h)
    var_theta = lr * s * (1 + m) / (h * denom)
    np.testing.assert_allclose(P[0, 0], var_theta, rtol=SOLVE_RTOL)
    np.testing.assert_allclose(P[1, 1], 2 * lr**2 * s / denom, rtol=SOLVE_RTOL)
    np.testing.assert_allclose(P[0, 1], lr**2 * s / denom, rtol=SOLVE_RTOL)
    np.testing.assert_allclose(theory.sgd_stationary_cov(H, S, lr, m)[0, 0], var_theta,
                               rtol=SOLVE_RTOL)
    if m == 0:
        np.testing.assert_allclose(P[0, 0], lr * s / (h * (2 - lr * h)), rtol=SOLVE_RTOL)

    var_sme = lr * s / (2 * h * (1 - m))
    np.testing.assert_allclose(theory.sme_stationary_cov(H, S, lr, m)[0, 0], var_sme,
                               rtol=SOLVE_RTOL)
    # Underdamped, by hand: with P = [[a, c], [c, b]] the three entries of F P + P Fᵀ + Q = 0
    # give c = 0, b = εh a, b = ε²s/(2(1−m)); so a equals the SME variance.
    Pu = theory.underdamped_stationary_phase_cov(H, S, lr, m)
    np.testing.assert_allclose(Pu[0, 0], var_sme, rtol=SOLVE_RTOL)
    np.testing.assert_allclose(Pu[1, 1], lr**2 * s / (2 * (1 - m)), rtol=SOLVE_RTOL)
    np.testing.assert_allclose(Pu[0, 1], 0.0, atol=SOLVE_RTOL * var_sme)
    np.testing.assert_allclose(theory.underdamped_stationary_cov(H, S, lr, m)[0, 0], var_sme,
                               rtol=SOLVE_RTOL)


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_commuting_3d_reduces_to_per_mode_formulas(m):
    rng = np.random.default_rng(7)
    q = _orthogonal(rng, 3)
    h, s, lr = np.array([0.5, 1.5, 4.0]), np.array([2.0, 0.5, 0.1]), 0.3
    H, S = q @ np.diag(h) @ q.T, q @ np.diag(s) @ q.T
    per_mode = lr * s * (1 + m) / (h * (1 - m) * (2 * (1 + m) - lr * h))
    np.testing.assert_allclose(theory.sgd_stationary_cov(jnp.asarray(H), jnp.asarray(S), lr, m),
                               q @ np.diag(per_mode) @ q.T, rtol=SOLVE_RTOL, atol=1e-14)
    sme = lr / (1 - m) * S @ np.linalg.inv(H) / 2  # ε_eff S H⁻¹ / 2 (docs/theory.md §3)
    for fn in (theory.sme_stationary_cov, theory.underdamped_stationary_cov):
        np.testing.assert_allclose(fn(jnp.asarray(H), jnp.asarray(S), lr, m), sme,
                                   rtol=SOLVE_RTOL, atol=1e-14)


# ---------------------------------------------------------------- 3. non-commuting 3-D


@pytest.mark.parametrize(("lr", "m"), [(0.3, 0.0), (0.5, 0.9)])
def test_noncommuting_stationary_covs_match_scipy(noncommuting, lr, m):
    H, S = noncommuting
    Hj, Sj = jnp.asarray(H), jnp.asarray(S)
    T, b = _np_transition(H, lr, m)
    ref = scipy.linalg.solve_discrete_lyapunov(T, b @ S @ b.T)
    np.testing.assert_allclose(theory.sgd_stationary_phase_cov(Hj, Sj, lr, m), ref,
                               rtol=SOLVE_RTOL, atol=1e-14)
    np.testing.assert_allclose(theory.sgd_stationary_cov(Hj, Sj, lr, m), ref[:3, :3],
                               rtol=SOLVE_RTOL, atol=1e-14)
    if m == 0:
        ref0 = scipy.linalg.solve_discrete_lyapunov(np.eye(3) - lr * H, lr**2 * S)
        np.testing.assert_allclose(theory.sgd_stationary_cov(Hj, Sj, lr), ref0, rtol=SOLVE_RTOL)
    ref_sme = scipy.linalg.solve_continuous_lyapunov(H, lr / (1 - m) * S)
    np.testing.assert_allclose(theory.sme_stationary_cov(Hj, Sj, lr, m), ref_sme,
                               rtol=SOLVE_RTOL)
    F = np.block([[np.zeros((3, 3)), np.eye(3)], [-lr * H, -(1 - m) * np.eye(3)]])
    Q = scipy.linalg.block_diag(np.zeros((3, 3)), lr**2 * S)
    ref_ud = scipy.linalg.solve_continuous_lyapunov(F, -Q)
    np.testing.assert_allclose(theory.underdamped_stationary_phase_cov(Hj, Sj, lr, m), ref_ud,
                               rtol=SOLVE_RTOL, atol=1e-14)
    # Second-order SME: K P + P Kᵀ = ε S, K = H + (ε/2)H² (docs/theory.md §2b).
    ref_sme2 = scipy.linalg.solve_continuous_lyapunov(H + lr / 2 * H @ H, lr * S)
    np.testing.assert_allclose(theory.sme2_stationary_cov(Hj, Sj, lr), ref_sme2, rtol=SOLVE_RTOL)


@pytest.mark.parametrize(("lr", "m"), [(0.375, 0.0), (0.5, 0.9)])
def test_noncommuting_sgd_cov_matches_monte_carlo(noncommuting, lr, m):
    """Monte Carlo of the optax recursion v ← m v + ĝ, θ ← θ − ε v with ĝ = H(θ−θ*) + ξ."""
    H, S = noncommuting
    d, n_chains = 3, 20_000
    T, _ = _np_transition(H, lr, m)
    eigvals, eigvecs = np.linalg.eig(T)
    rho = np.max(np.abs(eigvals))
    assert rho < 1
    # Chains start at z = 0, so after k steps Cov z_k = P − T^k P T^kᵀ. With T = V Λ V⁻¹,
    # ‖T^k‖ ≤ κ(V) ρ^k: choose k so that κ(V)² ρ^{2k} ≤ 1e-6, far below the ~1% sampling error.
    kappa = np.linalg.cond(eigvecs)
    steps = math.ceil(math.log(1e-6 / kappa**2) / (2 * math.log(rho)))

    rng = np.random.default_rng(12345)
    chol = np.linalg.cholesky(S)
    theta_star = np.array([1.0, -2.0, 0.5])
    theta = np.tile(theta_star, (n_chains, 1))
    v = np.zeros((n_chains, d))
    for _ in range(steps):
        grad = (theta - theta_star) @ H + rng.standard_normal((n_chains, d)) @ chol.T
        v = m * v + grad
        theta = theta - lr * v
    z = np.hstack([theta - theta_star, -lr * v])  # E z = 0 exactly (started at the optimum)

    products = z[:, :, None] * z[:, None, :]
    mc_cov = products.mean(axis=0)
    mc_se = products.std(axis=0, ddof=1) / np.sqrt(n_chains)
    # Independent chains: each entry's estimate is a mean of i.i.d. products, so its standard
    # error is std(product)/√n. 5 σ per entry over 21 distinct entries: a false alarm has
    # probability < 21·6e-7 for a correct formula.
    P = np.asarray(theory.sgd_stationary_phase_cov(jnp.asarray(H), jnp.asarray(S), lr, m))
    assert np.all(np.abs(mc_cov - P) < 5 * mc_se)
    # Power: the same Monte Carlo clearly rejects the first-order SME covariance of θ.
    sme = np.asarray(theory.sme_stationary_cov(jnp.asarray(H), jnp.asarray(S), lr, m))
    assert np.max(np.abs(mc_cov[:d, :d] - sme) / mc_se[:d, :d]) > 20


# ---------------------------------------------------------------- 4. means

STEPS = np.array([0, 1, 2, 7, 50, 333])


def _critical_momentum(lr: float, h: float) -> float:
    """m at which the heavy-ball mode with curvature h has a double (defective) eigenvalue:
    discriminant (1 + m − εh)² − 4m = 0, i.e. m = (1 − √(εh))²."""
    return (1 - math.sqrt(lr * h)) ** 2


@pytest.mark.parametrize(
    ("lr", "m"), [(0.1, 0.0), (0.4, 0.0), (0.05, 0.9), (0.1, _critical_momentum(0.1, 1.0))]
)
def test_means_match_independent_references(lr, m):
    rng = np.random.default_rng(3)
    q = _orthogonal(rng, 3)
    H = q @ np.diag([1.0, 0.3, 2.5]) @ q.T  # eigenvalue 1.0 makes the critical case defective
    theta_star, theta0 = rng.standard_normal(3), rng.standard_normal(3) + 2.0
    scale = np.linalg.norm(theta0 - theta_star)
    args = (jnp.asarray(H), jnp.asarray(theta_star), jnp.asarray(theta0), lr, m)

    # Discrete mean: the deterministic optax recursion, step by step. Rounding grows by ~1e-16
    # per step (contractive map), so 1e-10·scale over ≤ 333 steps has a wide margin.
    ref = np.empty((STEPS.max() + 1, 3))
    theta, v = theta0.copy(), np.zeros(3)
    for k in range(STEPS.max() + 1):
        ref[k] = theta
        v = m * v + H @ (theta - theta_star)
        theta = theta - lr * v
    got = theory.sgd_mean(*args, jnp.asarray(STEPS))
    assert got.shape == (len(STEPS), 3)
    np.testing.assert_allclose(got, ref[STEPS], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(theory.sgd_mean(*args, 50), ref[50], rtol=0, atol=1e-10 * scale)
    jitted = jax.jit(theory.sgd_mean)(*args, jnp.asarray(STEPS))
    np.testing.assert_allclose(jitted, ref[STEPS], rtol=0, atol=1e-10 * scale)

    # First-order SME mean: scipy's expm at t = k ε/(1−m); expm is accurate to ~1e-15 relative.
    t = STEPS * lr / (1 - m)
    ref_sme = np.array([theta_star + scipy.linalg.expm(-H * tk) @ (theta0 - theta_star)
                        for tk in t])
    got = theory.sme_mean(*args, jnp.asarray(STEPS))
    assert got.shape == (len(STEPS), 3)
    np.testing.assert_allclose(got, ref_sme, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(theory.sme_mean(*args, 7), ref_sme[3], rtol=0, atol=1e-12 * scale)

    # Underdamped mean: integrate dθ = u, du = −(1−m)u − εH(θ−θ*) with DOP853 at two tolerances;
    # their difference bounds the looser solve's error, and 10× it (plus roundoff) is the tolerance.
    def rhs(_, z):
        return np.concatenate([z[3:], -(1 - m) * z[3:] - lr * H @ z[:3]])

    z0 = np.concatenate([theta0 - theta_star, np.zeros(3)])

    def integrate(rtol):
        sol = solve_ivp(rhs, (0, STEPS.max()), z0, method="DOP853", t_eval=STEPS,
                        rtol=rtol, atol=rtol * scale)
        return theta_star + sol.y[:3].T

    ref_ud, ref_ud_fine = integrate(1e-10), integrate(1e-13)
    tol = 10 * np.max(np.abs(ref_ud - ref_ud_fine)) + 1e-12 * scale
    got = theory.underdamped_mean(*args, jnp.asarray(STEPS))
    assert got.shape == (len(STEPS), 3)
    np.testing.assert_allclose(got, ref_ud_fine, rtol=0, atol=tol)


# ---------------------------------------------------------------- 5. second-order SME


@pytest.mark.parametrize(("lr", "h", "s"), [(0.1, 1.0, 1.0), (0.9, 2.0, 0.5), (0.01, 5.0, 3.0)])
def test_sme2_one_d(lr, h, s):
    # K = h + εh²/2 and K P + P K = εs give Var θ = εs/(2K) = εs / (2h(1 + εh/2)).
    got = theory.sme2_stationary_cov(jnp.array([[h]]), jnp.array([[s]]), lr)
    np.testing.assert_allclose(got[0, 0], lr * s / (2 * h * (1 + lr * h / 2)), rtol=SOLVE_RTOL)


# ---------------------------------------------------------------- 6. SGD–SDE gap


@pytest.mark.parametrize(("lr", "h", "m", "s"), ONE_D)
def test_gap_one_d(lr, h, m, s):
    H, S = jnp.array([[h]]), jnp.array([[s]])
    x = lr * h / (2 * (1 + m))
    gap = theory.relative_stationary_gap(H, S, lr, m)
    np.testing.assert_allclose(gap, 1 / (1 - x) - 1, rtol=1e-9)  # cancellation: gap ≥ 0.0125
    # Linear in ε: gap(ε)/gap(ε/10) = 10 (1 − x/10)/(1 − x) = 10 (1 + O(x)).
    ratio = gap / theory.relative_stationary_gap(H, S, lr / 10, m)
    np.testing.assert_allclose(ratio, 10 * (1 - x / 10) / (1 - x), rtol=1e-8)
    assert abs(ratio / 10 - 1) <= x / (1 - x)  # = 0.9x/(1−x): an O(ε) correction


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_gap_linear_in_lr_noncommuting(noncommuting, m):
    # P_sgd/ε and P_sme/ε are analytic in ε with equal limits, so gap(ε) = c₁ε + c₂ε² + …, and
    # r(ε) = gap(ε)/gap(ε/10)/10 − 1 = 0.9 (c₂/c₁) ε + O(ε²): r shrinks ~10× per decade of ε.
    # With momentum and non-commuting H, S the expansion parameter is ελ/(1−m)² (the SME is the
    # overdamped limit of the inertial dynamics), so the decades start at ε = 0.1 (1−m)².
    H, S = jnp.asarray(noncommuting[0]), jnp.asarray(noncommuting[1])
    lr0 = 0.1 * (1 - m) ** 2
    gaps = [float(theory.relative_stationary_gap(H, S, lr0 / 10**j, m)) for j in range(3)]
    r1, r2 = gaps[0] / gaps[1] / 10 - 1, gaps[1] / gaps[2] / 10 - 1
    assert abs(r1) < 0.5
    assert abs(r2) < 0.2 * abs(r1)


@pytest.mark.parametrize("lr", [1e-2, 1e-3])
def test_underdamped_beats_sme_for_momentum_noncommuting(noncommuting, lr):
    # For m = 0.9 and non-commuting H, S the first-order SME misses the discrete covariance by
    # O(ελ/(1−m)²), far more than the per-mode factor 1/(1 − εh/(2(1+m))) of docs/theory.md §3; the
    # underdamped SDE keeps the inertia and stays within O(ελ).
    H, S = jnp.asarray(noncommuting[0]), jnp.asarray(noncommuting[1])
    m = 0.9
    p_sgd = theory.sgd_stationary_cov(H, S, lr, m)

    def rel(P):
        return float(jnp.linalg.norm(p_sgd - P) / jnp.linalg.norm(P))

    gap_sme = rel(theory.sme_stationary_cov(H, S, lr, m))
    gap_ud = rel(theory.underdamped_stationary_cov(H, S, lr, m))
    per_mode = 1 / (1 - lr * float(jnp.linalg.eigvalsh(H)[-1]) / (2 * (1 + m))) - 1
    assert gap_sme > 5 * per_mode
    assert gap_ud < gap_sme / 5


# ---------------------------------------------------------------- 7. stability bound


@pytest.mark.parametrize("m", [0.0, 0.9, -0.5])
def test_max_stable_lr_is_spectral_radius_one(noncommuting, m):
    H = noncommuting[0]
    bound = float(theory.max_stable_lr(jnp.asarray(H), m))
    np.testing.assert_allclose(bound, 2 * (1 + m) / np.linalg.eigvalsh(H).max(), rtol=1e-12)

    def radius(lr):
        return np.max(np.abs(np.linalg.eigvals(_np_transition(H, lr, m)[0])))

    # At the bound the stiffest mode has the root −1, which moves by O(δ) for lr = bound·(1 ± δ).
    for frac in (0.01, 0.5, 0.9, 0.999):
        assert radius(frac * bound) < 1
    assert radius(1.001 * bound) > 1


# ---------------------------------------------------------------- 8. scales and batch factor


def test_effective_lr_and_noise_scale():
    np.testing.assert_allclose(theory.effective_lr(0.1), 0.1, rtol=1e-15)
    np.testing.assert_allclose(theory.effective_lr(0.1, 0.9), 1.0, rtol=1e-14)
    np.testing.assert_allclose(theory.noise_scale(0.1, 10, 1000, 0.9), 99.0, rtol=1e-14)
    np.testing.assert_allclose(theory.noise_scale(0.5, 50, 1000), 0.5 * 19, rtol=1e-15)


@pytest.mark.parametrize(("n", "batch"), [(9, 1), (9, 4), (5, 5), (7, 3)])
def test_minibatch_noise_factor_matches_exact_enumeration(n, batch):
    rng = np.random.default_rng(11)
    points = rng.standard_normal((n, 2))  # per-example "gradients"
    centred = points - points.mean(axis=0)
    C = centred.T @ centred / n  # population covariance, docs/theory.md §1

    def exact_cov(batches):  # exact covariance of the batch mean over equally likely batches
        means = np.array([points[list(idx)].mean(axis=0) for idx in batches]) - points.mean(0)
        return means.T @ means / len(means)

    without = exact_cov(itertools.combinations(range(n), batch))
    f = float(theory.minibatch_noise_factor(batch, n))
    np.testing.assert_allclose(f, (n - batch) / (batch * (n - 1)), rtol=1e-15)
    np.testing.assert_allclose(without, f * C, rtol=1e-12, atol=1e-15)

    with_repl = exact_cov(itertools.product(range(n), repeat=batch))
    np.testing.assert_allclose(with_repl, theory.minibatch_noise_factor(batch, n, True) * C,
                               rtol=1e-12)
    np.testing.assert_allclose(theory.minibatch_noise_factor(batch), 1 / batch, rtol=1e-15)


# ---------------------------------------------------------------- jit and dtype


def test_jit_with_traced_hyperparameters(noncommuting):
    H, S = jnp.asarray(noncommuting[0]), jnp.asarray(noncommuting[1])
    for fn in (theory.sgd_stationary_cov, theory.underdamped_stationary_cov,
               theory.sme_stationary_cov, theory.relative_stationary_gap):
        eager = fn(H, S, 0.2, 0.5)
        traced = jax.jit(fn)(H, S, jnp.asarray(0.2), jnp.asarray(0.5))
        assert traced.dtype == jnp.float64
        np.testing.assert_allclose(traced, eager, rtol=1e-12)


def test_optimal_batch_size_inverts_the_noise_scale_and_the_nqm_limit_is_the_quadratic_one():
    """B = εN/(ε + g(1−m)) gives back g = ε(N/B − 1)/(1−m); the NQM's 2(1+m)/max h equals
    max_stable_lr of its diagonal H."""
    for lr, g, n, m in ((0.1, 13.0, 512, 0.0), (0.4, 31.8, 8192, 0.0), (1.0, 5.0, 1000, 0.9)):
        b = theory.optimal_batch_size(lr, g, n, m)
        assert theory.noise_scale(lr, b, n, m) == pytest.approx(g, rel=1e-12)
    nqm = NoisyQuadratic.power_law(dim=50, power=1.0, noise=1.0)
    h = np.asarray(nqm.curvatures, np.float64)
    for m in (0.0, 0.9):
        assert nqm.max_stable_lr(m) == pytest.approx(
            float(theory.max_stable_lr(jnp.diag(jnp.asarray(h)), m)), rel=1e-6)
