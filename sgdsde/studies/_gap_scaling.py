"""How the SGD–SDE gap scales with the learning rate (docs/theory.md §2–3).

Each point couples SGD to the SDE through one Brownian path per ensemble member (common random
numbers, see :mod:`sgdsde.brownian`): SGD keeps exactly its own law, but the shared noise
cancels in path-by-path differences, so a gap of order ε is resolved with a few thousand paths.
The gap is fitted as gap ≈ c·ε^p by weighted least squares in log–log space (weights from the
standard errors, delta method: se(log gap) = se(gap)/gap); p = 1 for the first-order SME.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..compare import (
    bootstrap,
    bootstrap_key,
    difference_estimate,
    finite_paths,
    relative_covariance_gap,
)
from ..config import RunConfig, SDEConfig
from ..sde import setup_sde, simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import Quadratic, Surface
from ..theory import effective_lr, minibatch_noise_factor, sgd_stationary_cov
from ._quadratic import steps_to_stationarity

DEFAULT_SDE = SDEConfig()


@dataclasses.dataclass(frozen=True)
class GapScaling:
    """Measured SGD–SDE gap against ε, with standard errors and the fitted log–log slope."""

    observable: str
    model: str
    lrs: np.ndarray
    gaps: np.ndarray
    stderrs: np.ndarray
    theory: np.ndarray | None
    slope: float
    slope_stderr: float
    intercept: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the gaps against ε, their standard errors and the fit."""
        return {
            "observable": self.observable,
            "model": self.model,
            "lrs": self.lrs.tolist(),
            "gaps": self.gaps.tolist(),
            "stderrs": self.stderrs.tolist(),
            "theory": None if self.theory is None else self.theory.tolist(),
            "slope": self.slope,
            "slope_stderr": self.slope_stderr,
            "intercept": self.intercept,
        }


def fit_power_law(
    x: np.ndarray, y: np.ndarray, y_stderr: np.ndarray
) -> tuple[float, float, float]:
    """Slope p, its standard error and the intercept a of log y = a + p·log x (natural log),
    weighted by 1/se(log y)².

    When the residual scatter exceeds what the standard errors explain (reduced χ² > 1), the
    slope's error is inflated by √χ²_red, so model misfit widens the interval.
    """
    log_x, log_y = np.log(x), np.log(np.abs(y))
    sigma = np.asarray(y_stderr) / np.abs(y)
    design = np.stack([np.ones_like(log_x), log_x], axis=1)
    weights = 1.0 / sigma**2
    normal = design.T @ (weights[:, None] * design)
    coefficients = np.linalg.solve(normal, design.T @ (weights * log_y))
    residuals = log_y - design @ coefficients
    dof = max(len(x) - 2, 1)
    reduced_chi2 = float(np.sum(weights * residuals**2) / dof)
    covariance = np.linalg.inv(normal) * max(reduced_chi2, 1.0)
    return float(coefficients[1]), float(math.sqrt(covariance[1, 1])), float(coefficients[0])


def _coupled_finals(
    surface: Surface, run: RunConfig, sde: SDEConfig, theta0: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Final states of SGD and of the SDE driven by the same Brownian path, path by path."""
    setup = setup_sde(surface, run, dataclasses.replace(sde, brownian="grid"))
    sgd_run = simulate_sgd(surface, run, save_steps=(run.steps,), theta0=theta0,
                           coupling=setup.brownian)
    sde_run = simulate_sde(surface, run, setup, save_steps=(run.steps,), theta0=theta0)
    return finite_paths(sgd_run, sde_run)


def stationary_gap_scaling(
    surface: Quadratic,
    lrs: Sequence[float],
    *,
    momentum: float = 0.0,
    sde: SDEConfig = DEFAULT_SDE,
    paths: int = 2000,
    seed: int = 0,
) -> GapScaling:
    """Relative gap ‖Ĉ_SGD − Ĉ_SDE‖_F/‖Ĉ_SDE‖_F of stationary covariances (B = 1, infinite
    data) at each ε, with a paired-bootstrap standard error, beside the closed form
    ‖P_disc − P_SDE‖_F/‖P_SDE‖_F. Runs start at θ* and last until the transient is below
    1e-4 of the covariance."""
    gaps, stderrs, theory = [], [], []
    for index, lr in enumerate(lrs):
        steps = steps_to_stationarity(surface, lr, momentum, tolerance=1e-4)
        run = RunConfig(lr=lr, momentum=momentum, steps=steps, paths=paths, seed=seed + index)
        sgd_final, sde_final = _coupled_finals(surface, run, sde)
        estimate = bootstrap(
            relative_covariance_gap, sgd_final, sde_final, bootstrap_key(seed, index),
            paired=True,
        )
        gaps.append(float(estimate.value))
        stderrs.append(float(estimate.stderr))
        minibatch_cov = minibatch_noise_factor(1) * surface.noise_cov
        exact_sgd = sgd_stationary_cov(surface.hessian, minibatch_cov, lr, momentum)
        exact_sde = sde.sde_model.stationary_cov(surface.hessian, minibatch_cov, lr, momentum)
        theory.append(float(jnp.linalg.norm(exact_sgd - exact_sde) / jnp.linalg.norm(exact_sde)))
    return _scaling("relative stationary covariance gap", sde.model_name, lrs, gaps, stderrs,
                    theory)


def weak_gap_scaling(
    surface: Surface,
    lrs: Sequence[float],
    *,
    horizon: float = 1.0,
    momentum: float = 0.0,
    sde: SDEConfig = DEFAULT_SDE,
    paths: int = 4000,
    seed: int = 0,
    theta0: jax.Array | None = None,
) -> GapScaling:
    """Finite-horizon weak gap E‖θ_K‖²_SGD − E‖X_T‖²_SDE at SDE time T = `horizon`
    (K = round(T/ε_eff) updates), with the paired standard error, from `theta0` (default:
    the surface's start)."""
    gaps, stderrs = [], []
    for index, lr in enumerate(lrs):
        steps = max(1, round(horizon / effective_lr(lr, momentum)))
        run = RunConfig(lr=lr, momentum=momentum, steps=steps, paths=paths, seed=seed + index)
        sgd_final, sde_final = _coupled_finals(surface, run, sde, theta0)
        estimate = difference_estimate(
            jnp.sum(sgd_final**2, axis=1), jnp.sum(sde_final**2, axis=1), paired=True
        )
        gaps.append(float(estimate.value))
        stderrs.append(float(estimate.stderr))
    return _scaling(f"E‖θ‖² at t={horizon}", sde.model_name, lrs, gaps, stderrs, None)


def _scaling(observable, model, lrs, gaps, stderrs, theory) -> GapScaling:
    lrs_, gaps_, stderrs_ = (np.asarray(v, dtype=np.float64) for v in (lrs, gaps, stderrs))
    slope, slope_stderr, intercept = fit_power_law(lrs_, gaps_, stderrs_)
    return GapScaling(
        observable=observable,
        model=model,
        lrs=lrs_,
        gaps=gaps_,
        stderrs=stderrs_,
        theory=None if theory is None else np.asarray(theory),
        slope=slope,
        slope_stderr=slope_stderr,
        intercept=intercept,
    )
