"""Heavy ball on a learned surface against its two SDE descriptions (docs/adaptive.md §7).

One discrete ensemble of ``optax.sgd(ε, momentum=m)`` (real minibatches) is compared with the
underdamped (phase-space) SDE, time t = k, which keeps the velocity, and with the first-order
SME in the effective learning rate ε/(1−m), time t = k·ε/(1−m), which is its large-friction
limit (docs/theory.md §2). The SME can only hold when the velocity relaxes much faster than
the loss changes: over 1/(1−m) updates the parameters must move little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..compare import difference_estimate, mean_estimate
from ..config import RunConfig, SDEConfig, checked_save_steps
from ..sde import simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import Surface
from ._rule import listed, trajectory_metrics

MOMENTUM_MODELS = ("underdamped", "sme1")


def momentum_comparison(
    surface: Surface, run: RunConfig, substeps: dict[str, int], *,
    save_steps: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Heavy ball (`run`, m > 0) against the underdamped SDE and the first-order SME, each
    integrated by Euler with ``substeps[model]`` steps per update, saved at `save_steps`.

    Returns a JSON-ready record: the discrete metric trajectories and, per model, the SDE's and
    the gap (discrete − SDE, independent ensembles) ± stderr, with the diverged fractions."""
    steps = checked_save_steps(save_steps, run.steps)
    discrete = simulate_sgd(surface, run, save_steps=steps)
    metrics = trajectory_metrics(surface, discrete.theta[~np.asarray(discrete.diverged)])
    record: dict[str, Any] = {
        "lr": run.lr, "momentum": run.momentum, "effective_lr": run.effective_lr,
        "batch_size": run.batch_size, "steps": list(steps), "paths": run.paths,
        "diverged_fraction": {"discrete": discrete.diverged_fraction},
        "discrete": {name: listed(mean_estimate(v)) for name, v in metrics.items()},
        "models": {},
    }
    for model in MOMENTUM_MODELS:
        sde = simulate_sde(surface, run, SDEConfig(model, "euler", substeps[model]),
                           save_steps=steps)
        sde_metrics = trajectory_metrics(surface, sde.theta[~np.asarray(sde.diverged)])
        record["diverged_fraction"][model] = sde.diverged_fraction
        record["models"][model] = {
            "substeps": substeps[model], "dt": sde.info["dt"],
            "sde": {name: listed(mean_estimate(v)) for name, v in sde_metrics.items()},
            "gap": {name: listed(difference_estimate(metrics[name], sde_metrics[name],
                                                      paired=False))
                    for name in metrics},
        }
    return record
