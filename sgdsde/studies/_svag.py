"""The SVAG validity test of Li, Malladi & Arora (2021) on a learned surface, beside the package's
own SGD–SDE gap at the same ε (docs/theory.md §8, docs/toolkit.md).

For each ε and each ℓ of a list, SVAG(ℓ) (:class:`sgdsde.surfaces.SVAG`) runs at ε/ℓ for ℓ·K
updates, K = ⌈T/ε⌉, from the surface's initialisation, so every ℓ covers the same SDE time T
and has SGD's first-order SME; ℓ = 1 is SGD itself. As ℓ grows SVAG converges to that SDE: if
the metrics at ℓ = 1 and at the largest ℓ agree, the SDE describes SGD at this ε; where they
separate it does not. Beside them the first-order SME itself is integrated (Euler–Maruyama,
dt ≤ `sde_dt` and never dt = ε, exact state-dependent noise). Independent ensembles
(minibatch streams of seed ``seed + index``), sampled with replacement by default (shuffled
epochs make the noise of an epoch sum to zero, which no SDE with independent increments has;
docs/theory.md §2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int, check_list, check_number, is_int, is_number
from ..compare import mean_estimate
from ..config import RunConfig, SDEConfig, budget_steps, checkpoint_steps
from ..sde import simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import METRICS, SVAG, LearnedSurface, check_ell
from ._dt import substeps_for


def check_ells(ells: object) -> tuple[int, ...]:
    """A non-empty list of distinct integers ℓ ≥ 1 (ℓ·K updates must be whole), sorted."""
    values = check_list("ells", ells, lambda v: is_int(v) and v >= 1, "integers >= 1")
    return tuple(sorted(int(check_ell(v)) for v in values))


def svag_study(surface: LearnedSurface, lrs: Sequence[float], ells: Sequence[float] = (1, 2, 4, 8),
               *, batch_size: int, sde_time: float, paths: int = 8, replacement: bool = True,
               checkpoints: int = 5, sde_dt: float | None = 0.02, seed: int = 0
               ) -> dict[str, Any]:
    """SVAG(ℓ) for every ℓ of `ells` at every ε of `lrs` (module docstring), and the SME at
    each ε when `sde_dt` is given.

    **Returns:** a JSON-ready record: the settings and per ε a row with ``steps`` (SGD updates
    at ℓ = 1 of the checkpoints), ``svag`` (per ℓ, per metric of :data:`METRICS` the
    per-checkpoint mean and stderr, and the diverged count), ``sde`` (same, or None) and
    ``final_gaps``: per metric, SVAG(1) − SVAG(ℓ_max) and SVAG(1) − SME at the last
    checkpoint, each {mean, stderr} (independent ensembles)."""
    values = check_list("lrs", lrs, lambda v: is_number(v) and v > 0, "finite numbers > 0")
    ladder = check_ells(ells)
    check_int("batch_size", batch_size, maximum=surface.n_train)
    check_number("sde_time", sde_time, above=0.0)
    check_int("paths", paths, 2)
    check_number("sde_dt", sde_dt, above=0.0, optional=True)
    rows = [_svag_row(surface, float(lr), ladder, batch_size=batch_size, sde_time=sde_time,
                      paths=paths, replacement=replacement, checkpoints=checkpoints,
                      sde_dt=sde_dt, seed=seed) for lr in sorted(values)]
    return {"batch_size": batch_size, "n_train": surface.n_train, "sde_time": sde_time,
            "paths": paths, "replacement": replacement, "ells": list(ladder), "seed": seed,
            "rows": rows}


def _metrics_record(surface: LearnedSurface, run) -> dict[str, Any]:
    """Per metric the per-checkpoint mean and stderr over the finite paths, and the diverged
    count (all metrics NaN when fewer than two paths are finite)."""
    metrics = surface.ensemble_metrics(run)
    out: dict[str, Any] = {"diverged": int(np.sum(np.asarray(run.diverged)))}
    for name in METRICS:
        values = metrics[name]
        if values.shape[0] < 2:
            nan = [math.nan] * len(run.steps)
            out[name] = {"mean": nan, "stderr": nan}
            continue
        estimate = mean_estimate(values)
        out[name] = {"mean": np.asarray(estimate.value, float).tolist(),
                     "stderr": np.asarray(estimate.stderr, float).tolist()}
    return out


def _final_gap(a: dict[str, Any], b: dict[str, Any], name: str) -> dict[str, float]:
    mean = a[name]["mean"][-1] - b[name]["mean"][-1]
    return {"mean": mean, "stderr": math.hypot(a[name]["stderr"][-1], b[name]["stderr"][-1])}


def _svag_row(surface: LearnedSurface, lr: float, ells: tuple[int, ...], *, batch_size: int,
              sde_time: float, paths: int, replacement: bool, checkpoints: int,
              sde_dt: float | None, seed: int) -> dict[str, Any]:
    """Every ℓ and the SME at one ε."""
    n = surface.n_train
    steps = budget_steps("sde_time", sde_time, lr=lr, momentum=0.0, batch_size=batch_size,
                         n_train=n)
    save = checkpoint_steps(steps, checkpoints)
    svag: dict[str, Any] = {}
    for index, ell in enumerate(ells):
        run = RunConfig(lr=lr / ell, batch_size=batch_size, n_train=n, replacement=replacement,
                        steps=ell * steps, paths=paths, seed=seed + index)
        result = simulate_sgd(SVAG(surface, ell), run, save_steps=[ell * k for k in save])
        svag[str(ell)] = _metrics_record(surface, result)
    sde = None
    if sde_dt is not None:
        substeps = substeps_for(lr, sde_dt)
        run = RunConfig(lr=lr, batch_size=batch_size, n_train=n, replacement=replacement,
                        steps=steps, paths=paths, seed=seed + len(ells))
        sde = _metrics_record(surface, simulate_sde(surface, run, SDEConfig("sme1", "euler",
                                                                            substeps),
                                                    save_steps=save))
    first, last = svag[str(ells[0])], svag[str(ells[-1])]
    gaps = {name: {"svag": _final_gap(first, last, name),
                   "sde": None if sde is None else _final_gap(first, sde, name)}
            for name in METRICS}
    return {"lr": lr, "steps": list(save), "updates": steps, "svag": svag, "sde": sde,
            "sde_dt": None if sde_dt is None else lr / substeps_for(lr, sde_dt),
            "final_gaps": gaps}

