"""Bayesian evidence by the Laplace approximation at a minimum (Smith & Le 2018,
docs/theory.md §5).

Conventions (read these before mixing with :class:`sgdsde.surfaces.LearnedSurface`):

- The **cost** is SUMMED over the N training examples,
  C(ω) = −Σ_i ln P(y_i | ω, x_i) + (λ/2)‖ω‖², λ > 0 the precision of the Gaussian prior
  N(0, λ⁻¹I) on the d parameters. ``LearnedSurface.loss`` is the MEAN loss plus (λ/2)‖θ‖², so
  C = N·(mean NLL) + (λ/2)‖θ‖²; :func:`summed_cost` builds C from a surface's per-example
  losses and ignores the surface's own ``l2``.
- The **Laplace approximation** at the minimum ω₀, with λ_j the eigenvalues of the Hessian
  ∇∇C(ω₀) (which contains λI from the prior):
  ln P(y | x; M) ≈ −C(ω₀) + ln Occam,  ln Occam = −½ Σ_j ln(λ_j/λ).
  It is exact when C is quadratic in ω (a linear-Gaussian model whose cost carries the
  Gaussian normalisation constants).
- The **null model** predicts 1/n for each of n classes: ln P_null = −N ln n. The log evidence
  ratio is ln P(y|x;M) − ln P_null = −C(ω₀) − ½Σ_j ln(λ_j/λ) + N ln n.
- Everything here runs in float64 and requires ``jax_enable_x64`` (call
  :func:`require_x64` first or ``jax.config.update("jax_enable_x64", True)``): the evidence is
  a difference of numbers of order N, and a minimum found in float32 has a gradient far from 0.
- Exact Hessians (``jax.hessian`` of the flat θ) are used up to ``MAX_EXACT_DIM`` parameters.
  Above it, asking for ``hessian="exact"`` is an error; ``hessian="lanczos"`` gives a stochastic
  Lanczos quadrature ESTIMATE of ln det ∇∇C (with its standard error), flagged
  ``logdet_is_estimate=True`` in every result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float, Key, Matrix, Scalar, Vector
from .._validation import check_choice, check_int, check_number
from ..errors import IncompatibleChoiceError, NotAMinimumError
from ..learning import Dataset, accuracy, per_example_loss
from ..surfaces import learned_surface

MAX_EXACT_DIM = 2000
HESSIAN_METHODS = ("exact", "lanczos")
CostFn = Callable[[Vector], Scalar]


# --- validation -------------------------------------------------------------------------------


def require_x64() -> None:
    """Raise IncompatibleChoiceError unless jax's float64 mode is on."""
    if not jax.config.jax_enable_x64:
        raise IncompatibleChoiceError(
            "the evidence needs float64: call jax.config.update('jax_enable_x64', True) "
            "before building the surface (sgdsde evidence does this itself)"
        )


def check_prior_precision(prior_precision: float) -> float:
    """λ as a Python float; ParameterRangeError naming ``lambda`` unless 0 < λ < ∞ (the
    precision of the Gaussian prior)."""
    return check_number("lambda", prior_precision, above=0.0)


def check_hessian_method(hessian: str, dim: int, max_exact_dim: int = MAX_EXACT_DIM) -> None:
    """UnknownNameError for an unknown method; IncompatibleChoiceError for an exact Hessian of
    more than `max_exact_dim` parameters (the d×d matrix and its O(d³) eigen-decomposition)."""
    check_choice("hessian", hessian, HESSIAN_METHODS)
    if hessian == "exact" and dim > max_exact_dim:
        raise IncompatibleChoiceError(
            f"hessian='exact' with d={dim} parameters exceeds max_exact_dim={max_exact_dim}: "
            "the exact Hessian is a d×d matrix; ask for the stochastic Lanczos estimate with "
            "hessian='lanczos' (results are then labelled as estimates)"
        )


# --- costs ------------------------------------------------------------------------------------


class SummedCost(eqx.Module):
    """C(θ) = Σ_i ℓ_i(θ) + (λ/2)‖θ‖² of a learned surface: its per-example cross-entropies
    SUMMED over the N training examples (not the surface's mean) plus the Gaussian-prior term
    of precision λ (the surface's own ``l2`` is ignored). A pytree, so one compilation serves
    every λ."""

    surface: Any
    prior_precision: Float[Array, ""]

    def __call__(self, theta: Vector) -> Scalar:
        s = self.surface
        nll = s.per_example_losses(theta, s.x_train, s.y_train).sum()
        return nll + 0.5 * self.prior_precision * jnp.sum(theta**2)


def summed_cost(surface: Any, prior_precision: float) -> SummedCost:
    """The summed cost C = N·(mean NLL) + (λ/2)‖θ‖² of `surface` (see :class:`SummedCost`)."""
    lam = check_prior_precision(prior_precision)
    return SummedCost(surface, jnp.asarray(lam, surface.x_train.dtype))


# --- Hessians and log-determinants -----------------------------------------------------------


@eqx.filter_jit
def exact_hessian(cost_fn: CostFn, theta: Vector) -> Matrix:
    """∇∇C(θ) by ``jax.hessian`` on the flat parameter vector (d × d)."""
    return jax.hessian(cost_fn)(theta)


@eqx.filter_jit
def _value_grad_hessian(cost_fn: CostFn, theta: Vector) -> tuple[Scalar, Vector, Matrix]:
    value, grad = jax.value_and_grad(cost_fn)(theta)
    return value, grad, jax.hessian(cost_fn)(theta)


@eqx.filter_jit
def _value_and_grad(cost_fn: CostFn, theta: Vector) -> tuple[Scalar, Vector]:
    return jax.value_and_grad(cost_fn)(theta)


def hessian_vector_product(cost_fn: CostFn, theta: Vector, v: Vector) -> Vector:
    """∇∇C(θ)·v by forward-over-reverse differentiation (no d × d matrix)."""
    return jax.jvp(jax.grad(cost_fn), (theta,), (v,))[1]


@eqx.filter_jit
def _lanczos_probe(cost_fn: CostFn, theta: Vector, v: Vector, steps: int):
    """Lanczos tridiagonalisation (full re-orthogonalisation) of H = ∇∇C(θ) from probe v:
    the Gauss quadrature of vᵀ ln(H) v ≈ ‖v‖² Σ_k τ_k² ln θ_k, θ_k the Ritz values and τ_k the
    first components of their eigenvectors; and the Hutchinson term vᵀHv.

    When the Krylov space of v is exhausted before `steps` (β_k ≈ 0: v lies in an invariant
    subspace, e.g. when H has repeated eigenvalues, or `steps` reaches d) the recursion stops
    there: the steps after the breakdown are replaced by a decoupled diagonal block above every
    Ritz value, whose eigenvectors have zero first component, so they add nothing to the
    quadrature (exact in that case) and do not lower the smallest Ritz value."""
    d = theta.shape[0]
    q0 = v / jnp.linalg.norm(v)

    def body(i, carry):
        basis, alphas, betas, active, q, q_prev, beta_prev, alive = carry
        basis = basis.at[i].set(q)
        w = hessian_vector_product(cost_fn, theta, q) - beta_prev * q_prev
        alpha = w @ q
        w = w - alpha * q
        w = w - basis.T @ (basis @ w)  # rows > i are still zero
        w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        grows = beta > 1e-12 * (jnp.abs(alpha) + 1)
        q_next = jnp.where(grows, w / beta, jnp.zeros_like(w))
        return (basis, alphas.at[i].set(alpha), betas.at[i].set(beta), active.at[i].set(alive),
                q_next, q, beta, alive & grows)

    zeros = jnp.zeros(steps, theta.dtype)
    init = (jnp.zeros((steps, d), theta.dtype), zeros, zeros, jnp.zeros(steps, bool), q0,
            jnp.zeros_like(q0), jnp.zeros((), theta.dtype), jnp.array(True))
    _, alphas, betas, active, *_ = jax.lax.fori_loop(0, steps, body, init)
    above = 1.0 + 2.0 * jnp.max(jnp.where(active, jnp.abs(alphas), 0.0)) + 2.0 * jnp.max(betas)
    diagonal = jnp.where(active, alphas, above)
    coupled = jnp.where(active[1:], betas[:-1], 0.0)
    tri = jnp.diag(diagonal) + jnp.diag(coupled, 1) + jnp.diag(coupled, -1)
    ritz, vectors = jnp.linalg.eigh(tri)
    weights = vectors[0] ** 2
    quad = (v @ v) * jnp.sum(jnp.where(weights > 0, weights * jnp.log(ritz), 0.0))
    hutchinson = v @ hessian_vector_product(cost_fn, theta, v)
    return quad, hutchinson, jnp.min(ritz)


@dataclass(frozen=True)
class LogDet:
    """ln det ∇∇C and tr ∇∇C at a point, exact or estimated (then with standard errors)."""

    logdet: float
    trace: float
    min_eigenvalue: float
    method: str
    is_estimate: bool
    logdet_stderr: float = 0.0
    trace_stderr: float = 0.0


def exact_logdet(hessian: Matrix) -> LogDet:
    """ln det H = Σ_j ln λ_j and tr H from the eigenvalues of a symmetric H (NaN log-det when
    some λ_j ≤ 0: then θ is not a minimum)."""
    eigenvalues = np.linalg.eigvalsh(np.asarray(0.5 * (hessian + hessian.T), np.float64))
    smallest = float(eigenvalues.min())
    logdet = float(np.sum(np.log(eigenvalues))) if smallest > 0 else math.nan
    return LogDet(logdet=logdet, trace=float(eigenvalues.sum()), min_eigenvalue=smallest,
                  method="exact", is_estimate=False)


def lanczos_logdet(cost_fn: CostFn, theta: Vector, *, key: Key, probes: int = 30,
                   steps: int = 40) -> LogDet:
    """Stochastic Lanczos quadrature ESTIMATE of ln det ∇∇C(θ) (Ubaru, Chen & Saad 2017) and
    Hutchinson's estimate of the trace, from `probes` Rademacher vectors and `steps` Lanczos
    steps each (capped at d), using Hessian–vector products only. The standard errors are the
    spread over probes / √probes (the quadrature error is not included). Needs H ≻ 0."""
    d = theta.shape[0]
    steps = min(steps, d)
    signs = jax.random.rademacher(key, (probes, d), dtype=theta.dtype)
    results = [_lanczos_probe(cost_fn, theta, v, steps) for v in signs]
    quads = np.array([float(r[0]) for r in results])
    traces = np.array([float(r[1]) for r in results])
    smallest = min(float(r[2]) for r in results)
    spread = math.sqrt(probes) if probes > 1 else math.nan
    return LogDet(
        logdet=float(quads.mean()), trace=float(traces.mean()), min_eigenvalue=smallest,
        method=f"lanczos (SLQ, {probes} probes × {steps} steps)", is_estimate=True,
        logdet_stderr=float(quads.std(ddof=1) / spread) if probes > 1 else math.nan,
        trace_stderr=float(traces.std(ddof=1) / spread) if probes > 1 else math.nan,
    )


def hessian_logdet(cost_fn: CostFn, theta: Vector, *, hessian: str = "exact",
                   max_exact_dim: int = MAX_EXACT_DIM, key: Key | None = None,
                   probes: int = 30, steps: int = 40) -> LogDet:
    """ln det and trace of ∇∇C(θ): exact (``jax.hessian`` + eigenvalues, d ≤ `max_exact_dim`)
    or the stochastic Lanczos estimate (``hessian="lanczos"``)."""
    check_hessian_method(hessian, theta.shape[0], max_exact_dim)
    if hessian == "exact":
        return exact_logdet(exact_hessian(cost_fn, theta))
    return lanczos_logdet(cost_fn, theta, key=jax.random.key(0) if key is None else key,
                          probes=probes, steps=steps)


def curvature(cost_fn: CostFn, theta: Vector, **kwargs: Any) -> dict[str, Any]:
    """Curvature of a point (e.g. an SGD end point): tr ∇∇C(θ), ln det ∇∇C(θ) (NaN unless
    ∇∇C ≻ 0), the smallest eigenvalue, the method and whether they are estimates. `kwargs`
    go to :func:`hessian_logdet`. Pass a :func:`summed_cost` for the evidence's curvature, or
    a surface's mean ``loss`` for the curvature SGD sees (the two differ by N on the data
    term)."""
    return asdict(hessian_logdet(cost_fn, theta, **kwargs))


# --- minimisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Minimum:
    """The point a minimiser returned, C there, ‖∇C‖₂ there, the iterations, and whether it
    met the tolerance (``converged=False`` means: do not trust the evidence at this point)."""

    theta: Vector
    cost: float
    grad_norm: float
    iterations: int
    converged: bool
    method: str


def minimize_cost(cost_fn: CostFn, theta_init: Vector, *, gtol: float = 1e-6,
                  max_iter: int = 200, method: str = "newton",
                  max_exact_dim: int = MAX_EXACT_DIM) -> Minimum:
    """Minimise C to ‖∇C(θ)‖₂ ≤ `gtol` (on the SUMMED cost).

    ``method="newton"``: damped Newton with backtracking (Armijo) line search on the exact
    Hessian (d ≤ `max_exact_dim`; quadratic convergence on the strictly convex L2-regularised
    logistic cost; a gradient step where the Newton direction is not a descent direction).
    ``method="lbfgs"``: optax's L-BFGS with zoom line search, for any d. Never raises for a
    failure to converge: the result says ``converged=False``.
    """
    check_choice("method", method, ("newton", "lbfgs"))
    check_number("gtol", gtol, above=0.0)
    if method == "newton":
        check_hessian_method("exact", theta_init.shape[0], max_exact_dim)
        return _newton(cost_fn, theta_init, gtol, max_iter)
    return _lbfgs(cost_fn, theta_init, gtol, max_iter)


def _newton(cost_fn: CostFn, theta: Vector, gtol: float, max_iter: int) -> Minimum:
    iterations = 0
    value, grad, hess = _value_grad_hessian(cost_fn, theta)
    while float(jnp.linalg.norm(grad)) > gtol and iterations < max_iter:
        direction = -jnp.linalg.solve(hess, grad)
        slope = float(direction @ grad)
        if not (math.isfinite(slope) and slope < 0):
            direction, slope = -grad, -float(grad @ grad)
        step, accepted = 1.0, False
        for _ in range(60):
            trial = theta + step * direction
            trial_value, _ = _value_and_grad(cost_fn, trial)
            if float(trial_value) <= float(value) + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        iterations += 1
        if not accepted:  # no decrease in floating point: as far as Newton can go
            break
        theta = trial
        value, grad, hess = _value_grad_hessian(cost_fn, theta)
    norm = float(jnp.linalg.norm(grad))
    return Minimum(theta=theta, cost=float(value), grad_norm=norm, iterations=iterations,
                   converged=norm <= gtol, method="newton")


def _lbfgs(cost_fn: CostFn, theta: Vector, gtol: float, max_iter: int) -> Minimum:
    import optax

    solver = optax.lbfgs()

    @eqx.filter_jit
    def step(cost_fn, theta, state):
        value_and_grad = optax.value_and_grad_from_state(cost_fn)
        value, grad = value_and_grad(theta, state=state)
        updates, state = solver.update(grad, state, theta, value=value, grad=grad,
                                       value_fn=cost_fn)
        return optax.apply_updates(theta, updates), state

    state = solver.init(theta)
    iterations = 0
    value, grad = _value_and_grad(cost_fn, theta)
    while float(jnp.linalg.norm(grad)) > gtol and iterations < max_iter:
        theta, state = step(cost_fn, theta, state)
        value, grad = _value_and_grad(cost_fn, theta)
        iterations += 1
    norm = float(jnp.linalg.norm(grad))
    return Minimum(theta=theta, cost=float(value), grad_norm=norm, iterations=iterations,
                   converged=norm <= gtol, method="lbfgs")


# --- the Laplace evidence ---------------------------------------------------------------------


@dataclass(frozen=True)
class LaplaceEvidence:
    """The Laplace log evidence at a point ω₀ (natural logs, whole training set):

    - `cost` = C(ω₀) (summed), `sum_log_ratio` = Σ_j ln(λ_j/λ) = ln det ∇∇C − d ln λ,
    - `log_occam` = −½ `sum_log_ratio`, `log_evidence` = −C(ω₀) + `log_occam`,
    - `log_null` = −N ln n (None when n_classes is not given), `log_evidence_ratio` =
      `log_evidence` − `log_null` and `log_evidence_ratio_per_example` = that / N.

    `logdet_is_estimate` says whether the log-determinant (and so the Occam factor and the
    evidence) is a stochastic estimate; `*_stderr` are then its standard errors.
    """

    cost: float
    log_occam: float
    log_evidence: float
    log_null: float | None
    log_evidence_ratio: float | None
    log_evidence_ratio_per_example: float | None
    sum_log_ratio: float
    hessian_trace: float
    min_eigenvalue: float
    prior_precision: float
    n_examples: int
    dim: int
    hessian_method: str
    logdet_is_estimate: bool
    log_occam_stderr: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of every field (natural logs, as above)."""
        return asdict(self)


def laplace_log_evidence(cost_fn: CostFn, theta0: Vector, prior_precision: float,
                         n_examples: int, *, n_classes: int | None = None,
                         hessian: str = "exact", max_exact_dim: int = MAX_EXACT_DIM,
                         key: Key | None = None, probes: int = 30,
                         steps: int = 40) -> LaplaceEvidence:
    """Laplace approximation of ln P(y | x; M) at the minimum `theta0` of the summed cost.

    **Arguments:**

    - `cost_fn`: θ ↦ C(θ) = −ln P(y | θ, x) + (λ/2)‖θ‖², the negative log-likelihood SUMMED
      over the N examples (including any normalisation constants of the likelihood) plus the
      prior term, whose precision must be `prior_precision`. The Gaussian prior's own
      normalisation is accounted for here, via the λ in ln(λ_j/λ).
    - `theta0`: the minimiser of `cost_fn` (see :func:`minimize_cost`).
    - `prior_precision`: λ > 0.
    - `n_examples`: N, for the per-example ratio and the null model.
    - `n_classes`: n for the null model's ln P_null = −N ln n (None: no null model).
    - `hessian`: ``"exact"`` (d ≤ `max_exact_dim`) or ``"lanczos"`` (an estimate; `key`,
      `probes`, `steps` as in :func:`lanczos_logdet`).

    **Returns:** a :class:`LaplaceEvidence`. Raises NotAMinimumError when ∇∇C(θ₀) is not
    positive definite, ParameterRangeError for λ ≤ 0.
    """
    require_x64()
    lam = check_prior_precision(prior_precision)
    check_int("n_examples", n_examples)
    check_int("n_classes", n_classes, 2, optional=True)
    dim = theta0.shape[0]
    logdet = hessian_logdet(cost_fn, theta0, hessian=hessian, max_exact_dim=max_exact_dim,
                            key=key, probes=probes, steps=steps)
    if not (logdet.min_eigenvalue > 0 and math.isfinite(logdet.logdet)):
        raise NotAMinimumError(
            f"the Hessian of the cost at theta0 is not positive definite (smallest eigenvalue "
            f"{logdet.min_eigenvalue:.3g}): the Laplace approximation needs a minimum"
        )
    cost = float(cost_fn(theta0))
    sum_log_ratio = logdet.logdet - dim * math.log(lam)
    log_occam = -0.5 * sum_log_ratio
    log_evidence = -cost + log_occam
    log_null = None if n_classes is None else -n_examples * math.log(n_classes)
    ratio = None if log_null is None else log_evidence - log_null
    return LaplaceEvidence(
        cost=cost, log_occam=log_occam, log_evidence=log_evidence, log_null=log_null,
        log_evidence_ratio=ratio,
        log_evidence_ratio_per_example=None if ratio is None else ratio / n_examples,
        sum_log_ratio=sum_log_ratio, hessian_trace=logdet.trace,
        min_eigenvalue=logdet.min_eigenvalue, prior_precision=lam, n_examples=n_examples,
        dim=dim, hessian_method=logdet.method, logdet_is_estimate=logdet.is_estimate,
        log_occam_stderr=0.5 * logdet.logdet_stderr,
    )


# --- a sweep over λ on a data set ------------------------------------------------------------


def evidence_at(dataset: Dataset, prior_precision: float, *, model: str = "logistic",
                width: int = 64, hessian: str = "exact", gtol: float = 1e-6,
                max_iter: int = 200, seed: int = 0) -> dict[str, Any]:
    """Train `model` to the minimum of the summed cost at prior precision λ on `dataset` and
    return one JSON-ready record: λ, train/test accuracy, train/test cross-entropy (MEAN per
    example, natural log), the :class:`LaplaceEvidence` fields, the gradient norm, the
    iterations and the ``converged`` flag. Newton from θ = 0 for d ≤ MAX_EXACT_DIM, else
    L-BFGS from the surface's initialisation."""
    return evidence_sweep(dataset, [prior_precision], model=model, width=width,
                          hessian=hessian, gtol=gtol, max_iter=max_iter, seed=seed)[0]


def evidence_sweep(dataset: Dataset, lambdas: Sequence[float], *, model: str = "logistic",
                   width: int = 64, hessian: str = "exact", gtol: float = 1e-6,
                   max_iter: int = 200, seed: int = 0,
                   on_point: Callable[[int, float], None] | None = None) -> list[dict[str, Any]]:
    """:func:`evidence_at` for each λ in `lambdas` (validated first; one compilation serves
    all of them). `on_point(index, λ)` is called before each point (progress)."""
    require_x64()
    values = [check_prior_precision(lam) for lam in lambdas]
    surface = learned_surface(dataset, model, width=width, seed=seed, dtype=jnp.float64)
    check_hessian_method(hessian, surface.dim)
    newton = surface.dim <= MAX_EXACT_DIM
    start = jnp.zeros_like(surface.theta_init) if model == "logistic" else surface.theta_init
    records = []
    for index, lam in enumerate(values):
        if on_point is not None:
            on_point(index, lam)
        cost = summed_cost(surface, lam)
        found = minimize_cost(cost, start, gtol=gtol, max_iter=max_iter,
                              method="newton" if newton else "lbfgs")
        try:
            evidence = laplace_log_evidence(cost, found.theta, lam, surface.n_train,
                                            n_classes=dataset.n_classes,
                                            hessian=hessian).to_dict()
        except NotAMinimumError:  # recorded (all evidence fields None), never a crash
            evidence = {f.name: None for f in dataclasses.fields(LaplaceEvidence)}
        records.append({
            "lambda": lam,
            **classifier_metrics(surface, found.theta),
            **evidence,
            "is_minimum": evidence["log_evidence"] is not None,
            "grad_norm": found.grad_norm, "iterations": found.iterations,
            "converged": found.converged, "minimizer": found.method,
        })
    return records


def classifier_metrics(surface: Any, theta: Vector) -> dict[str, float]:
    """Train/test accuracy and MEAN cross-entropy (nats per example, no prior term) at θ."""
    model = surface.unflatten(theta)
    return {
        "train_accuracy": float(accuracy(model, surface.x_train, surface.y_train)),
        "test_accuracy": float(accuracy(model, surface.x_test, surface.y_test)),
        "train_cross_entropy": float(per_example_loss(model, surface.x_train,
                                                      surface.y_train).mean()),
        "test_cross_entropy": float(per_example_loss(model, surface.x_test,
                                                     surface.y_test).mean()),
    }


__all__ = [
    "HESSIAN_METHODS", "MAX_EXACT_DIM", "LaplaceEvidence", "LogDet", "Minimum", "SummedCost",
    "check_hessian_method", "check_prior_precision", "classifier_metrics", "curvature",
    "evidence_at", "evidence_sweep", "exact_hessian", "exact_logdet", "hessian_logdet",
    "hessian_vector_product", "laplace_log_evidence", "lanczos_logdet", "minimize_cost",
    "require_x64", "summed_cost",
]
