"""The SDE at dt and at dt/2 on one Brownian path: the check that an SDE number is converged in
its time step (docs/theory.md §2)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import numpy as np

from .._types import Vector
from ..compare import difference_estimate, mean_estimate
from ..config import RunConfig, SDEConfig
from ..results import EnsembleRun
from ..sde import simulate_sde
from ..surfaces import Surface


def substeps_for(lr: float, sde_dt: float) -> int:
    """Solver steps per SGD step so that the SDE's step ε/substeps is at most `sde_dt`, and at
    least 2: never dt = ε, where Euler–Maruyama *is* SGD with Gaussian noise and agreement
    would be built in."""
    return max(2, math.ceil(lr / sde_dt - 1e-9))


#: A statistic of one point θ (a loss, a metric, a coordinate): what the dt check compares.
Statistic = Callable[[jax.Array], jax.Array]

#: The virtual Brownian tree's tolerance as a fraction of the *finer* dt, at both resolutions.
TREE_TOLERANCE = 1.0 / 16.0


def halved_dt_runs(
    surface: Surface, run: RunConfig, sde: SDEConfig, *, save_steps: Sequence[int],
    theta0: Vector | None = None,
) -> tuple[EnsembleRun, EnsembleRun]:
    """The SDE integrated at `sde.substeps` and at twice as many substeps per SGD step, on the
    same Brownian paths: a ``VirtualBrownianTree`` with one absolute tolerance (a fraction
    :data:`TREE_TOLERANCE` of the finer dt), so both resolutions sample one path. The paired
    shift between the two runs, against the ensemble's standard error, says whether a number
    is dt-converged. Returns (coarse, fine)."""
    coarse = dataclasses.replace(sde, brownian="tree", tree_tol_fraction=TREE_TOLERANCE / 2)
    fine = dataclasses.replace(coarse, substeps=2 * sde.substeps,
                               tree_tol_fraction=TREE_TOLERANCE)
    return tuple(simulate_sde(surface, run, config, save_steps=save_steps, theta0=theta0)
                 for config in (coarse, fine))


def dt_halving(
    surface: Surface, run: RunConfig, sde: SDEConfig,
    statistics: dict[str, Statistic], *, theta0: jax.Array | None = None,
    save_steps: Sequence[int] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """SDE numbers at dt and at dt/2 on the same Brownian path (:func:`halved_dt_runs`): per
    statistic and saved step the SDE mean and stderr at dt, and the paired shift
    mean(dt/2) − mean(dt) ± stderr, over the paths finite at both resolutions (dropped jointly,
    so the pairs stay pairs). dt-converged: |shift| < the SDE stderr."""
    steps = (run.steps,) if save_steps is None else tuple(save_steps)
    runs = halved_dt_runs(surface, run, sde, save_steps=steps, theta0=theta0)
    keep = ~np.any([np.asarray(r.diverged) for r in runs], axis=0)
    # one compiled evaluation of every statistic at every (path, save): work the statistics
    # share (a network's forward pass) is done once
    evaluate = jax.jit(jax.vmap(jax.vmap(
        lambda theta: {name: g(theta) for name, g in statistics.items()})))
    values = [evaluate(r.theta[keep]) for r in runs]
    record = {}
    for name in statistics:
        level = mean_estimate(values[0][name])
        shift = difference_estimate(values[1][name], values[0][name], paired=True)
        record[name] = {"sde": np.asarray(level.value).tolist(),
                        "sde_stderr": np.asarray(level.stderr).tolist(),
                        "shift": np.asarray(shift.value).tolist(),
                        "shift_stderr": np.asarray(shift.stderr).tolist()}
    return record
