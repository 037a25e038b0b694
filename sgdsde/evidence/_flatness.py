"""Noise and flatness (docs/theory.md §5, Smith & Le 2018): the curvature, and where defined
the Laplace evidence, of the points SGD reaches at different noise scales g = ε(N/B − 1)/(1 − m),
**at equal SDE time**.

Which clock: runs at different B are compared after the same SDE time T = updates·ε/(1 − m)
(at a fixed ε: the same number of updates). In the SDE description (docs/theory.md §2) two such
runs have followed the same drift for the same time and differ only in their noise, g/N·C —
the comparison the claim is about. Equal epochs would leave the large-B runs close to their
initialisation (B = 125 gets 1/25 of the updates of B = 5), so their curvature would be the
initialisation's, not the noise's. Training progress is reported beside the curvature (the end
points' train loss), so the reader sees what each clock costs.

For each batch size an ensemble of SGD runs (seeds) trains the model from the same
initialisation; at each end point the exact Hessian of the summed cost
C = N·(mean NLL) + (λ/2)‖θ‖² gives tr ∇∇C and, where ∇∇C ≻ 0, ln det ∇∇C and a *local*
Laplace log evidence ratio against the null model, −C − ½Σ ln(λ_j/λ) + N ln n; end points whose
Hessian is not positive definite are counted, not averaged. "Flatter" means a smaller trace.

**Limitations, stated.** (1) The trace is not invariant to reparametrisation: scaling a ReLU
unit's incoming weights by α and its outgoing ones by 1/α leaves the network's function
unchanged but changes ∇∇C; the Laplace evidence with its fixed Gaussian prior (what the
flatness argument of docs/theory.md §5 is about) is computed in the same parametrisation, which
is why the trace is reported in it. (2) SGD end points of an MLP are not minima, and polishing
them into one does not work: L-BFGS (3,000 iterations) and damped Newton from the end points of
width-4 and width-8 MLPs on MNIST-1D end with a smallest Hessian eigenvalue of −0.01 to −1.6
(saddles and flat directions), and the minimum of L2-regularised logistic regression is unique,
so g cannot move it. "Noise → flatter → higher evidence" is therefore measured here as
noise → flatter (the trace), with the local evidence reported where an end point's Hessian
happens to be positive definite — not end to end at true minima.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from ..config import RunConfig, budget_steps
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
    updates: int
    epochs: float
    test_accuracy: np.ndarray
    train_loss: np.ndarray
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
            "updates": self.updates,
            "epochs": self.epochs,
            "test_accuracy": mean_se(self.test_accuracy),
            "train_loss": mean_se(self.train_loss),
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
    sde_time: float,
    seeds: int,
    width: int = 16,
    prior_precision: float = 1.0,
    seed: int = 0,
) -> list[FlatnessPoint]:
    """Train an MLP by SGD (m = 0, shuffled epochs) at each batch size for the same SDE time
    `sde_time` (⌈T/ε⌉ updates; module docstring), then measure the curvature (and local
    evidence) of each end point (needs jax x64)."""
    require_x64()
    surface = learned_surface(dataset, "mlp", width=width, seed=seed, dtype=np.float64)
    check_hessian_method("exact", surface.dim)
    cost = summed_cost(surface, prior_precision)
    points = []
    for batch_size in batch_sizes:
        updates = budget_steps("sde_time", sde_time, lr=lr, momentum=0.0,
                               batch_size=batch_size, n_train=dataset.n_train)
        run = RunConfig(lr=lr, batch_size=batch_size, n_train=dataset.n_train, steps=updates,
                        paths=seeds, seed=seed)
        sgd = simulate_sgd(surface, run, save_steps=(updates,))
        metrics = surface.ensemble_metrics(sgd)
        finals = sgd.final[~np.asarray(sgd.diverged)]
        measured = [_endpoint_curvature(cost, theta, prior_precision, dataset) for theta in finals]
        keys = ("hessian_trace", "logdet", "log_evidence_ratio_per_example", "grad_norm")
        columns = {key: np.array([m[key] for m in measured], float) for key in keys}
        points.append(FlatnessPoint(
            batch_size=batch_size,
            noise_scale=run.noise_scale,
            updates=updates,
            epochs=updates * batch_size / dataset.n_train,
            test_accuracy=metrics["test_accuracy"][:, -1],
            train_loss=metrics["train_loss"][:, -1],
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
