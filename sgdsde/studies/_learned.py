"""SGD against its SDE on a learned surface: loss and accuracy along the run (docs/theory.md §2).

Both simulators start from the same initialisation; at every checkpoint the train/test
cross-entropy and accuracy of each finite path are averaged over the ensemble, with standard
errors, so that agreement (or the gap) is read off with error bars.

Sampling scheme matters. The SDEs model independent minibatch noise, which is what sampling
*with* replacement gives. Shuffled epochs (without replacement, the default) have the same
per-step covariance Σ_B, but the noise of one epoch sums to zero: over several epochs SGD then
ends measurably lower and tighter than the SDE even at small ε (tests/test_learned.py measures
it). Compare with ``RunConfig(replacement=True)`` unless that effect is what is studied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._io import json_safe
from ..compare import Estimate, difference_estimate, mean_estimate
from ..config import RunConfig, SDEConfig, budget_steps, checkpoint_steps
from ..results import EnsembleRun
from ..sde import simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import METRICS, LearnedSurface, learned_surface
from ._dt import Statistic, dt_halving, substeps_for


@dataclasses.dataclass(frozen=True)
class LearnedComparison:
    """Ensemble means ± standard errors of the metrics of SGD and of the SDE at each
    checkpoint, and their difference (SGD − SDE, independent ensembles)."""

    run: RunConfig
    sde: SDEConfig
    steps: np.ndarray
    sgd: dict[str, Estimate]
    sde_estimates: dict[str, Estimate]
    gap: dict[str, Estimate]
    sgd_run: EnsembleRun
    sde_run: EnsembleRun

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: the run's settings, per metric the per-checkpoint means and
        stderrs of SGD, of the SDE and of SGD − SDE, diverged fractions and provenance."""

        def listed(estimates: dict[str, Estimate]) -> dict[str, Any]:
            return {
                name: {"mean": np.asarray(e.value).tolist(),
                       "stderr": np.asarray(e.stderr).tolist()}
                for name, e in estimates.items()
            }

        return {
            "lr": self.run.lr,
            "momentum": self.run.momentum,
            "batch_size": self.run.batch_size,
            "n_train": self.run.n_train,
            "paths": self.run.paths,
            "seed": self.run.seed,
            "sde_model": self.sde.model_name,
            "sde_solver": self.sde_run.info["solver"],
            "sde_substeps": self.sde.substeps,
            "sde_time_per_step": self.sde_run.info["time_per_sgd_step"],
            "steps": self.steps.tolist(),
            "sgd": listed(self.sgd),
            "sde": listed(self.sde_estimates),
            "sgd_minus_sde": listed(self.gap),
            "diverged_fraction": {
                "sgd": self.sgd_run.diverged_fraction, "sde": self.sde_run.diverged_fraction,
            },
            "sgdsde_version": self.sgd_run.info["sgdsde_version"],
            "device": self.sgd_run.info["device"],
        }


def compare_on_learned(
    surface: LearnedSurface, run: RunConfig, sde: SDEConfig, *, save_steps: object = None
) -> LearnedComparison:
    """Run SGD (real minibatches) and the SDE model `sde.model` (exact state-dependent noise)
    from the surface's initialisation, and compare their metrics at `save_steps`."""
    sgd_run = simulate_sgd(surface, run, save_steps=save_steps)
    sde_run = simulate_sde(surface, run, sde, save_steps=save_steps)
    sgd_metrics = surface.ensemble_metrics(sgd_run)
    sde_metrics = surface.ensemble_metrics(sde_run)
    return LearnedComparison(
        run=run,
        sde=sde,
        steps=sgd_run.steps,
        sgd={name: mean_estimate(values) for name, values in sgd_metrics.items()},
        sde_estimates={name: mean_estimate(values) for name, values in sde_metrics.items()},
        gap={
            name: difference_estimate(sgd_metrics[name], sde_metrics[name], paired=False)
            for name in METRICS
        },
        sgd_run=sgd_run,
        sde_run=sde_run,
    )


#: The metrics whose final values decide whether SGD and its SDE agree.
FINAL_METRICS = ("train_loss", "test_accuracy")


def metric_statistics(surface: LearnedSurface, names: Sequence[str] = METRICS
                      ) -> dict[str, Statistic]:
    """The surface's metrics `names` (of :data:`~sgdsde.surfaces.METRICS`) as statistics of a
    dt check (:func:`dt_halving`), which evaluates them together so they share one forward
    pass."""
    return {name: (lambda theta, name=name: surface.metrics(theta)[name]) for name in names}


def dt_convergence(surface: LearnedSurface, run: RunConfig, sde: SDEConfig, *,
                   paths: int = 4) -> dict[str, dict[str, float]]:
    """How far halving the SDE's time step moves its final metrics (docs/theory.md §2): the
    SDE integrated at `sde.substeps` and at twice as many per SGD step on the *same* Brownian
    paths (one tree, both resolutions) for `paths` paths; per
    metric of :data:`FINAL_METRICS` the paired shift (fine − coarse) and its standard error.
    The SDE's numbers are converged when the shift is far below their own ensemble standard
    error; paired paths resolve it with a few paths (:func:`dt_halving`: a path diverged at
    either resolution is dropped from both)."""
    record = dt_halving(surface, dataclasses.replace(run, paths=paths), sde,
                        metric_statistics(surface, FINAL_METRICS))
    return {name: {"shift": record[name]["shift"][-1],
                   "stderr": record[name]["shift_stderr"][-1]} for name in FINAL_METRICS}


def fixed_noise_comparison(
    data: Any, model: str, *, lr: float, noise_scale: float, sde_time: float, paths: int,
    sde_dt: float, width: int = 64, replacement: bool = True, checkpoints: int = 6,
    sde_model: str = "sme1", solver: str = "euler", seed: int = 0,
    dt_check_paths: int | None = 4,
) -> dict[str, Any]:
    """SGD against its SDE at learning rate ε and a fixed noise scale g = εN/B (so B = εN/g),
    for the same SDE time T (⌈T/ε⌉ updates), the SDE solved with the step
    dt = ε/max(2, ⌈ε/sde_dt⌉) — never dt = ε, where Euler–Maruyama *is* SGD with Gaussian
    noise — and, unless `dt_check_paths` is None, checked for convergence by halving it
    (:func:`dt_convergence`, recorded under ``dt_check``).

    With replacement Σ_B = C/B, so the SME's diffusion ε·Σ_B = (g/N)·C: every ε at the same g
    integrates the same SDE and only SGD's discreteness changes. Returns a JSON-ready record:
    the settings, ``final`` (per metric of :data:`FINAL_METRICS`: ``sgd``, ``sde`` and ``gap``
    = SGD − SDE, each a mean and stderr at the last checkpoint) and the full ``comparison``
    (:meth:`LearnedComparison.to_dict`)."""
    n_train = data.n_train
    batch = max(1, round(lr * n_train / noise_scale))
    surface = learned_surface(data, model, width=width, seed=seed)
    steps = budget_steps("sde_time", sde_time, lr=lr, momentum=0.0, batch_size=batch,
                         n_train=n_train)
    substeps = substeps_for(lr, sde_dt)
    run = RunConfig(lr=lr, batch_size=batch, n_train=n_train, replacement=replacement,
                    steps=steps, paths=paths, seed=seed)
    save = checkpoint_steps(steps, checkpoints)
    sde = SDEConfig(sde_model, solver, substeps)
    comparison = compare_on_learned(surface, run, sde, save_steps=save)
    record = json_safe(comparison.to_dict())
    final = {
        name: {side: {stat: record[key][name][stat][-1] for stat in ("mean", "stderr")}
               for side, key in (("sgd", "sgd"), ("sde", "sde"), ("gap", "sgd_minus_sde"))}
        for name in FINAL_METRICS
    }
    return {
        "model": model, "width": width if model == "mlp" else None, "dim": surface.dim,
        "lr": lr, "batch_size": batch, "n_train": n_train, "replacement": replacement,
        "steps": steps, "sde_time": steps * run.effective_lr, "substeps": substeps,
        "sde_dt": lr / substeps,
        "g_replacement": lr * n_train / batch, "g_issue": run.noise_scale,
        "final": final, "comparison": record,
        "dt_check": None if dt_check_paths is None else {
            "paths": dt_check_paths, "substeps": (substeps, 2 * substeps),
            **dt_convergence(surface, run, sde, paths=dt_check_paths)},
    }


def gap_z(gap: dict[str, Any]) -> float:
    """|gap|/stderr of a ``final[...]["gap"]`` entry (NaN when undefined or diverged)."""
    mean, se = gap["mean"], gap["stderr"]
    return float("nan") if mean is None or not se else abs(mean) / se
