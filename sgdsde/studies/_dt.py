"""The SDE at dt and at dt/2 on one Brownian path: the check that an SDE number is converged in
its time step (docs/theory.md §2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .._types import Vector
from ..config import RunConfig, SDEConfig
from ..results import EnsembleRun
from ..sde import simulate_sde
from ..surfaces import Surface

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
