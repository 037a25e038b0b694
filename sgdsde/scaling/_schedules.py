"""Piecewise-constant training schedules: "decaying ε ≡ growing B" (docs/theory.md §4, Smith,
Kindermans, Ying & Le 2018).

A schedule is a list of phases (ε, B, epochs); each phase continues every run from where the
previous phase left it, with a fresh minibatch stream (``fold_in`` of the run's key with the
phase index) and, for heavy ball, a fresh velocity (v = 0 at each phase start: state it when
m > 0). Dividing ε by α at given epochs or multiplying B by α at the same epochs keeps the
noise scale g = ε(N/B − 1)/(1 − m) ≈ εN/(B(1 − m)) on the same path while B ≪ N, so the two
should reach the same test accuracy, the growing-batch one with fewer updates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_int
from ..brownian import Stream, path_keys
from ..compare import Estimate, difference_estimate, mean_estimate
from ..config import RunConfig, check_surface_fits_run
from ..errors import ParameterRangeError
from ..results import diverged_paths
from ..sgd import kernel_momentum, sgd_trajectories
from ..surfaces import LearnedSurface


@dataclasses.dataclass(frozen=True)
class Phase:
    """`epochs` epochs of SGD at learning rate `lr` and batch size `batch_size`."""

    lr: float
    batch_size: int
    epochs: int

    def updates(self, n_train: int) -> int:
        """⌊N/B⌋ updates per epoch (the last partial batch of an epoch is dropped)."""
        return self.epochs * (n_train // self.batch_size)


@dataclasses.dataclass(frozen=True)
class ScheduleResult:
    """Test accuracy of every run at the end of every phase, and the updates each phase took."""

    phases: tuple[Phase, ...]
    updates: tuple[int, ...]
    test_accuracy: np.ndarray  # (phases, runs); NaN for diverged runs
    diverged: np.ndarray  # (runs,)

    @property
    def total_updates(self) -> int:
        """Total SGD updates over all phases, Σ_phases epochs·⌊N/B⌋."""
        return sum(self.updates)


def run_schedule(
    surface: LearnedSurface,
    phases: Sequence[Phase],
    *,
    momentum: float = 0.0,
    runs: int = 8,
    seed: int = 0,
) -> ScheduleResult:
    """Train `runs` independent SGD runs (shuffled epochs) through `phases` from the surface's
    initialisation; every phase is validated (through :class:`RunConfig`) before anything is
    compiled."""
    if not phases:
        raise ParameterRangeError("phases", list(phases), "a non-empty list of Phase")
    n = surface.n_train
    configs = []
    for phase in phases:
        check_int("epochs", phase.epochs)
        configs.append(RunConfig(lr=phase.lr, momentum=momentum, batch_size=phase.batch_size,
                                 n_train=n, steps=phase.updates(n), paths=runs, seed=seed))
    for config in configs:
        check_surface_fits_run(surface, config)
    keys = path_keys(seed, runs, Stream.MINIBATCH)
    theta = jnp.broadcast_to(surface.initial_point(), (runs, surface.dim))
    accuracy, diverged = [], np.zeros(runs, bool)
    for index, config in enumerate(configs):
        phase_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        theta = _continue(surface, theta, config, phase_keys)
        diverged |= np.asarray(diverged_paths(theta[:, None, :], config.divergence_bound))
        values = np.asarray(surface.metrics_of(theta)["test_accuracy"])
        accuracy.append(np.where(diverged, np.nan, values))
    return ScheduleResult(
        phases=tuple(phases),
        updates=tuple(config.steps for config in configs),
        test_accuracy=np.stack(accuracy),
        diverged=diverged,
    )


def step_schedules(lr: float, batch_size: int, factor: int, epochs: int,
                   phases: int = 3) -> dict[str, list[Phase]]:
    """The three schedules of the equivalence claim, `phases` phases of `epochs` epochs each:
    ``"decay ε"`` (ε/factorᵏ at B), ``"grow B"`` (B·factorᵏ at ε) and ``"hybrid"`` (decay ε
    at the first boundary, grow B at the later ones)."""
    return {
        "decay ε": [Phase(lr / factor**k, batch_size, epochs) for k in range(phases)],
        "grow B": [Phase(lr, batch_size * factor**k, epochs) for k in range(phases)],
        "hybrid": [Phase(lr / factor ** min(k, 1), batch_size * factor ** max(k - 1, 0),
                         epochs) for k in range(phases)],
    }


def compare_schedules(surface: LearnedSurface, schedules: dict[str, Sequence[Phase]], *,
                      runs: int, momentum: float = 0.0, seed: int = 0,
                      reference: str = "decay ε") -> dict[str, Any]:
    """Run every schedule on the same `runs` seeds (paired runs) and compare each final test
    accuracy with the `reference` schedule's by the paired difference ± its standard error.
    Returns a JSON-ready record: per schedule the updates per phase and in total, the mean test
    accuracy after each phase, the final mean ± stderr, the runs' standard deviation
    (``final_sd``, one run's spread) and the diverged count; and per other schedule
    ``"<reference> − <name>"`` = {gap, stderr, pairs} (pairs: runs finite in both)."""
    results = {name: run_schedule(surface, phases, momentum=momentum, runs=runs, seed=seed)
               for name, phases in schedules.items()}
    record: dict[str, Any] = {"runs": runs, "schedules": {}, "differences": {}}
    for name, result in results.items():
        finite = result.test_accuracy[-1][~result.diverged]
        final = mean_estimate(finite) if finite.size > 1 else Estimate(math.nan, math.nan)
        record["schedules"][name] = {
            "phases": [dataclasses.asdict(p) for p in result.phases],
            "updates": list(result.updates), "total_updates": result.total_updates,
            "test_accuracy_per_phase": np.nanmean(result.test_accuracy, axis=1).tolist(),
            "final_test_accuracy": float(final.value), "final_stderr": float(final.stderr),
            "final_sd": float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan,
            "diverged": int(result.diverged.sum()),
        }
    base = results[reference].test_accuracy[-1]
    for name, result in results.items():
        if name != reference:
            both = np.isfinite(base) & np.isfinite(result.test_accuracy[-1])
            gap = difference_estimate(base[both], result.test_accuracy[-1][both], paired=True)
            record["differences"][f"{reference} − {name}"] = {
                "gap": float(gap.value), "stderr": float(gap.stderr), "pairs": int(both.sum())}
    return record


def _continue(surface: LearnedSurface, theta: jax.Array, config: RunConfig,
              keys: jax.Array) -> jax.Array:
    """Each run's parameters after `config.steps` more updates, from its own start."""
    batch = (config.batch_size, config.n_train, config.replacement)
    save_steps = jnp.asarray([config.steps])
    lr = jnp.asarray(config.lr, theta.dtype)
    momentum = kernel_momentum([config.momentum], theta.dtype)
    return sgd_trajectories(surface, theta, lr, momentum, keys, save_steps, batch=batch,
                            coupling=None)[:, -1]
