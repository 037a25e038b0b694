"""The runs of a sweep and how they are batched.

**Batching.** Runs are grouped by everything that fixes the shapes and the number of updates:
(N, B, updates, number of checkpoints). One group (cut into chunks of at most ``max_batch``
runs) is ONE call of a compiled ``vmap`` over its runs, i.e. over seeds, learning rates and
momenta together. With an ``sde_time`` budget the number of updates ⌈amount(1−m)/ε⌉ depends on
ε, so runs of different ε fall into different groups (chosen over running every ε to the
longest budget, which wastes up to half the compute on a doubling grid and would make the
per-step minibatch branch data-dependent); the update count and checkpoints are traced
arguments, so such groups reuse the same compilation when their width matches.

**Determinism.** Every run is identified by a hash of its configuration (:attr:`RunSpec.run_id`)
and the grouping depends only on the configuration, so a resumed or sharded sweep reproduces
the same rows.

**Order.** The batches still to run are handed to an executor longest first (most updates,
then most runs × B), so that the last batches to finish are short ones and the workers of a
cluster (or the threads of one process) finish together; the order never changes a row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Collection, Sequence

from .. import theory
from ..config import budget_steps, checkpoint_steps
from ._config import SweepConfig


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: the configuration columns of its row."""

    dataset: str
    n_train: int
    n_test: int | None
    classes: tuple[int, ...] | None
    data_seed: int
    model: str
    width: int | None
    l2: float
    lr: float
    batch_size: int
    momentum: float
    replacement: bool
    seed: int
    budget_kind: str
    budget_amount: float
    checkpoints: int
    updates: int
    optimizer: str = "sgd"
    optimizer_options: tuple[tuple[str, float | bool], ...] = ()

    @property
    def adaptive(self) -> bool:
        """Whether the run uses RMSprop or Adam, for which SGD's noise scale and SDE time
        do not apply."""
        return self.optimizer != "sgd"

    @property
    def run_id(self) -> str:
        """A stable hash of the run's configuration (16 hex digits); plain SGD runs hash
        without the optimiser fields, so they keep the ids of stores written before them."""
        record = dataclasses.asdict(self)
        record["classes"] = None if self.classes is None else list(self.classes)
        if not self.adaptive and not self.optimizer_options:
            del record["optimizer"], record["optimizer_options"]
        else:
            record["optimizer_options"] = dict(self.optimizer_options)
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def save_steps(self) -> tuple[int, ...]:
        """The `checkpoints` evenly spaced SGD steps 0..`updates` at which metrics are saved."""
        return checkpoint_steps(self.updates, self.checkpoints)

    @property
    def noise_scale(self) -> float:
        """g = ε(N/B − 1)/(1 − m) (:func:`sgdsde.theory.noise_scale`); NaN (not applicable)
        for RMSprop and Adam."""
        if self.adaptive:
            return math.nan
        return theory.noise_scale(self.lr, self.batch_size, self.n_train, self.momentum)

    @property
    def sde_time(self) -> float:
        """First-order SME time of the run, t = updates·ε/(1 − m); NaN for RMSprop and Adam."""
        if self.adaptive:
            return math.nan
        return self.updates * theory.effective_lr(self.lr, self.momentum)


def expand(config: SweepConfig) -> list[RunSpec]:
    """Every run of the grid, in a fixed order (n_train, B, m, ε, seed)."""
    runs = []
    for n_train, batch_size, momentum, lr, seed in itertools.product(
            config.n_trains, config.batch_sizes, config.momenta, config.lrs, config.seeds):
        updates = budget_steps(config.budget_kind, config.budget_amount, lr=lr,
                               momentum=momentum, batch_size=batch_size, n_train=n_train)
        runs.append(RunSpec(
            dataset=config.dataset, n_train=n_train, n_test=config.n_test,
            classes=config.classes, data_seed=config.data_seed, model=config.model,
            width=config.width, l2=config.l2, lr=lr, batch_size=batch_size, momentum=momentum,
            replacement=config.replacement, seed=seed, budget_kind=config.budget_kind,
            budget_amount=config.budget_amount, checkpoints=config.checkpoints,
            updates=updates, optimizer=config.optimizer,
            optimizer_options=config.optimizer_options,
        ))
    return runs


def plan_batches(runs: Sequence[RunSpec], max_batch: int) -> list[list[RunSpec]]:
    """Runs grouped by (N, B, updates, number of checkpoints), in order of first appearance,
    each group cut into chunks of at most `max_batch` runs. Depends on the runs only."""
    groups: dict[tuple[int, int, int, int], list[RunSpec]] = {}
    for run in runs:
        key = (run.n_train, run.batch_size, run.updates, len(run.save_steps))
        groups.setdefault(key, []).append(run)
    return [group[i:i + max_batch] for group in groups.values()
            for i in range(0, len(group), max_batch)]


def batch_id(runs: Sequence[RunSpec]) -> str:
    """A stable hash of a batch of runs (16 hex digits of SHA-256 over its sorted run ids)."""
    return hashlib.sha256(",".join(sorted(r.run_id for r in runs)).encode()).hexdigest()[:16]


def pending_batches(runs: Sequence[RunSpec], max_batch: int,
                    finished: Collection[str]) -> list[list[RunSpec]]:
    """The batches of :func:`plan_batches` without the runs whose ids are in `finished`
    (batches left empty are dropped), longest first (see the module docstring)."""
    todo = [[r for r in batch if r.run_id not in finished]
            for batch in plan_batches(runs, max_batch)]
    return sorted((batch for batch in todo if batch),
                  key=lambda b: (b[0].updates, len(b) * b[0].batch_size), reverse=True)
