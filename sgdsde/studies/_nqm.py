"""Heavy-ball SGD on the noisy quadratic model against its exact expected loss, beside the
exact expected loss of its SDE models (docs/theory.md §8, docs/toolkit.md)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import theory
from ..compare import mean_estimate
from ..config import RunConfig
from ..sgd import simulate_sgd
from ..surfaces import NoisyQuadratic

#: A standard error below this many machine epsilons of the mean is rounding, not sampling.
ROUNDING = 1000



def nqm_expected_losses(surface: NoisyQuadratic, run: RunConfig) -> dict[str, np.ndarray]:
    """E L after k = 0..`run.steps` updates at (ε, m, f) of `run`, exactly, for heavy ball
    ("sgd") and its SDE models ("sme1", "underdamped"; read at the SDE time of step k)."""
    h, c = surface.curvatures, surface.noise_variances
    curves = {}
    for name, transition in theory.NQM_TRANSITIONS.items():
        A, Q = transition(h, run.lr, run.momentum)
        curves[name] = np.asarray(theory.nqm_expected_loss(
            A, Q, h, c, surface.initial_point(), run.noise_factor, run.steps), np.float64)
    return curves


def nqm_ensemble_check(surface: NoisyQuadratic, run: RunConfig, *,
                       save_steps: object = None) -> dict[str, Any]:
    """Run `run.paths` SGD paths on the NQM and compare their mean loss ½Σh_iθ_i² at every
    saved step with the exact expectation (z = (mean − E L)/stderr; NaN where the spread is at
    rounding level, e.g. at step 0, where every path is at θ₀).

    **Returns:** a JSON-ready record: the run's settings, ``steps``, ``measured_loss`` and
    ``measured_loss_stderr`` (over the finite paths), ``predicted_loss`` (heavy ball, exact),
    ``sme1_loss`` and ``underdamped_loss`` (the SDEs' exact expectations), ``z`` (NaN where
    the stderr is 0) and ``diverged`` (paths dropped)."""
    sgd = simulate_sgd(surface, run, save_steps=save_steps)
    finite = sgd.theta[~np.asarray(sgd.diverged)]
    losses = jax.vmap(jax.vmap(surface.loss))(finite)
    measured = mean_estimate(losses)
    steps = np.asarray(sgd.steps)
    curves = nqm_expected_losses(surface, run)
    value, stderr = np.asarray(measured.value, float), np.asarray(measured.stderr, float)
    predicted = curves["sgd"][steps]
    rounding = ROUNDING * np.finfo(np.asarray(finite).dtype).eps * np.abs(value)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > rounding, (value - predicted) / stderr, np.nan)
    return {
        "dim": surface.dim, "lr": run.lr, "momentum": run.momentum,
        "batch_size": run.batch_size, "noise_factor": run.noise_factor, "paths": run.paths,
        "seed": run.seed, "steps": steps.tolist(), "measured_loss": value.tolist(),
        "measured_loss_stderr": stderr.tolist(), "predicted_loss": predicted.tolist(),
        "sme1_loss": curves["sme1"][steps].tolist(),
        "underdamped_loss": curves["underdamped"][steps].tolist(), "z": z.tolist(),
        "diverged": int(np.sum(np.asarray(sgd.diverged))),
    }


def nqm_description(surface: NoisyQuadratic) -> dict[str, Any]:
    """h, c and θ₀ of the NQM as lists (the record a CLI or a report carries)."""
    return {"h": np.asarray(surface.curvatures, float).tolist(),
            "c": np.asarray(surface.noise_variances, float).tolist(),
            "theta0": np.asarray(surface.initial_point(), float).tolist(),
            "initial_loss": float(surface.loss(surface.initial_point())),
            "dtype": str(jnp.asarray(surface.curvatures).dtype)}
