"""Noise and flatness (docs/theory.md §5, Smith & Le 2018): curvature and Laplace evidence of
the minima SGD finds at different noise scales g = ε(N/B − 1)/(1 − m), at the same budget of
updates.

For each batch size B an ensemble of SGD runs (seeds) trains the model from the same
initialisation; at each end point the exact Hessian of the summed cost
C = N·(mean NLL) + (λ/2)‖θ‖² gives tr ∇∇C and, where ∇∇C ≻ 0, ln det ∇∇C and a *local*
Laplace log evidence ratio against the null model, −C − ½Σ ln(λ_j/λ) + N ln n. SGD end points
are not exact minima (polishing an MLP to a true minimum with L-BFGS did not converge within
2,000 iterations here), so that number is labelled a local estimate; end points whose Hessian
is not positive definite are counted, not averaged. "Flatter" means a smaller trace.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from ..config import RunConfig
from ..learning import Dataset
from ..sgd import simulate_sgd
from ..surfaces import learned_surface
from ._laplace import check_hessian_method, hessian_logdet, require_x64, summed_cost


@dataclasses.dataclass(frozen=True)
class FlatnessPoint:
    """Per-seed results at one noise scale: SGD's test accuracy at the end point, and the
    curvature and local Laplace evidence there (NaN where ∇∇C is not positive definite;
    diverged runs are absent)."""

    batch_size: int
    noise_scale: float
    test_accuracy: np.ndarray
    hessian_trace: np.ndarray
    logdet: np.ndarray
    log_evidence_ratio_per_example: np.ndarray
    grad_norm: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Mean and standard error over seeds of each quantity (NaNs dropped and counted)."""

        def mean_se(values: np.ndarray) -> dict[str, float | int]:
            finite = values[np.isfinite(values)]
            count = int(finite.size)
            se = float(finite.std(ddof=1) / math.sqrt(count)) if count > 1 else math.nan
            return {"mean": float(finite.mean()) if count else math.nan, "stderr": se,
                    "n": count}

        return {
            "batch_size": self.batch_size,
            "noise_scale": self.noise_scale,
            "test_accuracy": mean_se(self.test_accuracy),
            "hessian_trace": mean_se(self.hessian_trace),
            "logdet": mean_se(self.logdet),
            "log_evidence_ratio_per_example": mean_se(self.log_evidence_ratio_per_example),
            "positive_definite_fraction": (
                float(np.mean(np.isfinite(self.logdet))) if self.logdet.size else math.nan
            ),
            "max_grad_norm": float(np.max(self.grad_norm)) if self.grad_norm.size else math.nan,
        }


def trace_drop(summaries: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """How much flatter the largest-g end points are: mean tr ∇∇C at the smallest g (last
    summary, largest B) minus at the largest g (first summary), and its standard error
    (independent seeds per batch size), from :meth:`FlatnessPoint.summary` records."""
    high, low = summaries[0]["hessian_trace"], summaries[-1]["hessian_trace"]
    return low["mean"] - high["mean"], math.hypot(low["stderr"], high["stderr"])


def flatness_study(
    dataset: Dataset,
    batch_sizes: Sequence[int],
    *,
    lr: float,
    updates: int,
    seeds: int,
    width: int = 16,
    prior_precision: float = 1.0,
    seed: int = 0,
) -> list[FlatnessPoint]:
    """Train an MLP by SGD (m = 0, shuffled epochs) for `updates` steps at each batch size, then
    measure curvature and evidence of the minimum each run reached (needs jax x64)."""
    require_x64()
    surface = learned_surface(dataset, "mlp", width=width, seed=seed, dtype=np.float64)
    check_hessian_method("exact", surface.dim)
    cost = summed_cost(surface, prior_precision)
    points = []
    for batch_size in batch_sizes:
        run = RunConfig(lr=lr, batch_size=batch_size, n_train=dataset.n_train, steps=updates,
                        paths=seeds, seed=seed)
        sgd = simulate_sgd(surface, run, save_steps=(updates,))
        accuracy = surface.ensemble_metrics(sgd)["test_accuracy"][:, -1]
        finals = sgd.final[~np.asarray(sgd.diverged)]
        measured = [_endpoint_curvature(cost, theta, prior_precision, dataset) for theta in finals]
        keys = ("hessian_trace", "logdet", "log_evidence_ratio_per_example", "grad_norm")
        columns = {key: np.array([m[key] for m in measured], float) for key in keys}
        points.append(FlatnessPoint(
            batch_size=batch_size,
            noise_scale=run.noise_scale,
            test_accuracy=accuracy,
            **columns,
        ))
    return points


def _endpoint_curvature(cost, theta: jax.Array, prior_precision: float,
                        dataset: Dataset) -> dict[str, float]:
    """tr and ln det of ∇∇C(θ), ‖∇C(θ)‖ and the local Laplace log evidence ratio per example
    (NaN unless ∇∇C(θ) ≻ 0)."""
    logdet = hessian_logdet(cost, theta)
    n, d = dataset.n_train, theta.shape[0]
    sum_log_ratio = logdet.logdet - d * math.log(prior_precision)
    ratio = -float(cost(theta)) - 0.5 * sum_log_ratio + n * math.log(dataset.n_classes)
    return {
        "hessian_trace": logdet.trace,
        "logdet": logdet.logdet,
        "log_evidence_ratio_per_example": ratio / n,
        "grad_norm": float(np.linalg.norm(jax.grad(cost)(theta))),
    }
