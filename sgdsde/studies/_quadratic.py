"""SGD against its SDE on a quadratic, with the closed forms as the truth (docs/theory.md §3).

The study runs both simulators from the stationary mean θ*, takes the final states as
independent draws of the stationary law, and reports each ensemble's covariance with its
standard error beside the discrete and continuous Lyapunov solutions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import theory
from ..compare import (
    Estimate,
    bootstrap,
    bootstrap_key,
    covariance_estimate,
    finite_paths,
    gaussian_w2,
)
from ..config import RunConfig, SDEConfig
from ..errors import UnstableLearningRateError
from ..results import EnsembleRun
from ..sde import setup_sde, simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import Quadratic


def check_stable(surface: Quadratic, run: RunConfig) -> None:
    """Heavy ball on a quadratic is stable iff 0 < ε·λ_max(H) < 2(1+m) (docs/theory.md §3)."""
    bound = float(theory.max_stable_lr(surface.hessian, run.momentum))
    if run.lr >= bound:
        raise UnstableLearningRateError(
            f"lr={run.lr} is outside the stable region for this quadratic: lr must be < "
            f"2(1+m)/λ_max(H) = {bound:.6g} (momentum={run.momentum}); pass "
            "allow_unstable=True (CLI: --allow-unstable) to run it and record divergence"
        )


def steps_to_stationarity(surface: Quadratic, lr: float, momentum: float = 0.0,
                          tolerance: float = 1e-3) -> float:
    """Updates after which the covariance transient from θ₀ = θ* is below `tolerance`
    relative: the transient decays like ρ(T)^{2k}, ρ the spectral radius of heavy ball's
    transition matrix (``math.inf`` when ρ ≥ 1, an unstable learning rate)."""
    transition, _ = theory.heavy_ball_transition(surface.hessian, lr, momentum)
    radius = float(np.max(np.abs(np.linalg.eigvals(np.asarray(transition, np.float64)))))
    if radius >= 1.0:
        return math.inf
    return math.ceil(math.log(tolerance) / (2.0 * math.log(radius)))


def auto_steps(surface: Quadratic, lr: float, momentum: float, low: int, high: int) -> int:
    """Updates for a stationary ensemble from θ*: :func:`steps_to_stationarity` (transient
    below 1e-3 relative) clipped to [low, high]; `high` when the learning rate is unstable."""
    needed = steps_to_stationarity(surface, lr, momentum)
    return high if not math.isfinite(needed) else int(min(max(needed, low), high))


@dataclasses.dataclass(frozen=True)
class QuadraticComparison:
    """Stationary covariances of SGD and of one SDE model on a quadratic, against theory."""

    surface: Quadratic
    run: RunConfig
    sde: SDEConfig
    sgd_run: EnsembleRun
    sde_run: EnsembleRun
    sgd_cov: Estimate
    sde_cov: Estimate
    theory_sgd_cov: np.ndarray
    theory_sde_cov: np.ndarray
    w2: Estimate
    stationary_after: float

    @property
    def stable(self) -> bool:
        """Whether discrete SGD has a stationary law at all (ε < 2(1+m)/λ_max)."""
        return self.run.lr < float(theory.max_stable_lr(self.surface.hessian, self.run.momentum))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: matrices used, settings, estimates, closed forms, provenance."""
        run = self.run

        def listed(x: Any) -> Any:
            return np.asarray(x, dtype=np.float64).tolist()

        return {
            "hessian": listed(self.surface.hessian),
            "noise_cov": listed(self.surface.noise_cov),
            "minibatch_noise_cov": listed(run.noise_factor * np.asarray(self.surface.noise_cov)),
            "lr": run.lr,
            "momentum": run.momentum,
            "batch_size": run.batch_size,
            "n_train": run.n_train,
            "replacement": run.replacement,
            "noise_scale": run.noise_scale,
            "effective_lr": run.effective_lr,
            "steps": run.steps,
            "paths": run.paths,
            "seed": run.seed,
            "stationary_after_steps": self.stationary_after,
            "sde_model": self.sde.model_name,
            "sde_solver": self.sde_run.info["solver"],
            "sde_dt": self.sde_run.info["dt"],
            "sde_substeps": self.sde.substeps,
            "brownian": self.sde_run.info["brownian"],
            "sgd_cov": listed(self.sgd_cov.value),
            "sgd_cov_stderr": listed(self.sgd_cov.stderr),
            "sde_cov": listed(self.sde_cov.value),
            "sde_cov_stderr": listed(self.sde_cov.stderr),
            "theory_sgd_cov": listed(self.theory_sgd_cov) if self.stable else None,
            "theory_sde_cov": listed(self.theory_sde_cov),
            "theory_relative_gap": float(
                np.linalg.norm(self.theory_sgd_cov - self.theory_sde_cov)
                / np.linalg.norm(self.theory_sde_cov)
            ) if self.stable else None,
            "w2_sgd_sde": float(self.w2.value),
            "w2_sgd_sde_stderr": float(self.w2.stderr),
            "diverged_fraction": {
                "sgd": self.sgd_run.diverged_fraction, "sde": self.sde_run.diverged_fraction,
            },
            "sgdsde_version": self.sgd_run.info["sgdsde_version"],
            "device": self.sgd_run.info["device"],
        }


def compare_on_quadratic(
    surface: Quadratic,
    run: RunConfig,
    sde: SDEConfig,
    *,
    allow_unstable: bool = False,
) -> QuadraticComparison:
    """Run SGD and the SDE model `sde.model` on `surface` from θ*, and compare the final
    ensembles' covariances with each other (Gaussian W2, bootstrap error) and with the
    discrete and continuous Lyapunov solutions for S = Σ_B.

    Raises before any compilation when a setting is invalid, or when `run.lr` is outside the
    stable region (unless `allow_unstable`, in which case divergence is recorded per path and
    statistics use only the finite paths; with none left they are NaN).
    """
    setup = setup_sde(surface, run, sde)
    if not allow_unstable:
        check_stable(surface, run)
    sgd_run = simulate_sgd(surface, run, save_steps=(0, run.steps))
    sde_run = simulate_sde(surface, run, setup, save_steps=(0, run.steps))
    (sgd_final,), (sde_final,) = finite_paths(sgd_run), finite_paths(sde_run)
    minibatch_cov = run.noise_factor * surface.noise_cov
    return QuadraticComparison(
        surface=surface,
        run=run,
        sde=sde,
        sgd_run=sgd_run,
        sde_run=sde_run,
        sgd_cov=_covariance_or_nan(sgd_final, surface.dim),
        sde_cov=_covariance_or_nan(sde_final, surface.dim),
        theory_sgd_cov=np.asarray(
            theory.sgd_stationary_cov(surface.hessian, minibatch_cov, run.lr, run.momentum)
        ),
        theory_sde_cov=np.asarray(
            setup.model.stationary_cov(surface.hessian, minibatch_cov, run.lr, run.momentum)
        ),
        w2=_w2_or_nan(sgd_final, sde_final, run.seed),
        stationary_after=steps_to_stationarity(surface, run.lr, run.momentum),
    )


def _covariance_or_nan(x: jax.Array, dim: int) -> Estimate:
    if x.shape[0] < 2:
        nan = jnp.full((dim, dim), jnp.nan)
        return Estimate(nan, nan)
    return covariance_estimate(x)


def _w2_or_nan(x: jax.Array, y: jax.Array, seed: int) -> Estimate:
    if min(x.shape[0], y.shape[0]) < 2:
        return Estimate(jnp.nan, jnp.nan)
    return bootstrap(gaussian_w2, x, y, bootstrap_key(seed), paired=False)


__all__ = ["QuadraticComparison", "auto_steps", "check_stable", "compare_on_quadratic",
           "steps_to_stationarity"]
