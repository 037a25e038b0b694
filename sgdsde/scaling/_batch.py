"""One batch of a sweep, wherever it runs: the runs' surfaces, ONE compiled vmapped call that
trains the runs, one compiled call that evaluates them at their checkpoints, and the store's
rows.

Run r uses the network initialised from its ``seed`` and the minibatch keys
``path_keys(seed, 1, Stream.MINIBATCH)`` — the same as ``sgdsde learned --paths 1``. With
several devices the run axis of a batch is sharded over a 1-D mesh (``NamedSharding``), padded
to a multiple of the device count. The same function makes the rows in this process and on a
Dask worker, so both give the same numbers for the same batch on the same kind of device.
Batches may run concurrently in threads: the first call of each compiled shape compiles it
while later batches of that shape wait for it, instead of compiling it again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._version import __version__
from ..brownian import Stream, path_keys
from ..errors import SGDSDEError, SweepConfigError
from ..learning import Dataset, load_dataset
from ..optimizers import Optimizer
from ..results import device_name, diverged_paths
from ..sgd import DEFAULT_OPTIMIZER, kernel_momentum, sgd_trajectories
from ..surfaces import METRICS, LearnedSurface, learned_surface
from ._config import SweepConfig
from ._plan import RunSpec, batch_id

DIVERGENCE_BOUND = 1e8


def load_data(config: SweepConfig, n_train: int) -> Dataset:
    """The training and test data of the runs with `n_train` examples; a too-large n_train or
    a missing IDX file raises :class:`SweepConfigError` (before anything compiles)."""
    try:
        return load_dataset(config.dataset, n_train=n_train, n_test=config.n_test,
                            classes=config.classes, seed=config.data_seed,
                            idx_dir=config.idx_dir)
    except SGDSDEError as exc:
        raise SweepConfigError(f"[data] with n_train={n_train}: {exc}") from None
    except (OSError, ValueError) as exc:  # IDX files missing or malformed
        raise SweepConfigError(f"config key data.dataset={config.dataset!r}: {exc}") from None


@functools.cache
def surfaces(config: SweepConfig, n_train: int) -> dict[int, LearnedSurface]:
    """One surface per seed of the sweep on its `n_train`-example data, built once per
    process (a worker keeps them for its next batches)."""
    data = load_data(config, n_train)
    return {seed: learned_surface(data, config.model, width=config.width or 1, l2=config.l2,
                                  seed=seed)
            for seed in config.seeds}


@eqx.filter_jit
def _group_trajectories(surface, theta0, lr, momentum, keys, save_steps,
                        optimizer=DEFAULT_OPTIMIZER, *, batch, bound):
    """θ at the save steps (R, S, d) and divergence flags (R,) of R runs sharing B, N,
    updates, the save steps (one unbatched (S,) array: the step counter then stays unbatched
    under vmap, so the once-per-epoch reshuffle remains a real branch instead of running at
    every step) and the optimiser (traced hyper-parameters), each run one path of
    :func:`~sgdsde.sgd.sgd_trajectories` with its own start, ε and m. The metrics are computed by a
    separate call (:meth:`LearnedSurface.metrics_of`), whose compilation does not depend on
    B: it is shared by every batch of the same N, run count and number of checkpoints."""

    theta = sgd_trajectories(surface, theta0, lr, momentum, keys, save_steps, batch=batch,
                             coupling=None, optimizer_config=optimizer)
    return theta, diverged_paths(theta, bound)


_shape_locks: dict[tuple[int, ...], threading.Lock] = {}


def _run(runs: Sequence[RunSpec], per_seed: dict[int, LearnedSurface], optimizer: Optimizer
         ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Metrics (runs, checkpoints) and divergence flags of one batch: one compiled training
    call (sharded over the devices when there are several), one compiled evaluation."""
    devices = jax.devices()
    first = runs[0]
    surface = next(iter(per_seed.values()))
    padded = list(runs) + [runs[-1]] * (-len(runs) % len(devices))
    dtype = surface.theta_init.dtype
    inputs = (
        jnp.stack([per_seed[r.seed].theta_init for r in padded]),
        jnp.asarray([r.lr for r in padded], dtype),
        kernel_momentum([r.momentum for r in padded], dtype),
        jnp.stack([path_keys(r.seed, 1, Stream.MINIBATCH)[0] for r in padded]),
    )
    if len(devices) > 1:
        sharding = NamedSharding(Mesh(np.array(devices), ("runs",)), PartitionSpec("runs"))
        inputs = tuple(jax.device_put(x, sharding) for x in inputs)
    shape = (first.n_train, first.batch_size, first.replacement, len(padded),
             len(first.save_steps), inputs[2] is None)
    with _shape_locks.setdefault(shape, threading.Lock()):  # compiles once; runs async
        theta, diverged = _group_trajectories(
            surface, *inputs, jnp.asarray(first.save_steps, jnp.int32),
            optimizer.traced(dtype),
            batch=(first.batch_size, first.n_train, first.replacement), bound=DIVERGENCE_BOUND)
    with _shape_locks.setdefault(shape[:1] + shape[3:5], threading.Lock()):
        metrics = surface.metrics_of(theta)
    return ({k: np.asarray(v, np.float64)[:len(runs)] for k, v in metrics.items()},
            np.asarray(diverged)[:len(runs)])


def _rows(runs: Sequence[RunSpec], metrics: dict[str, np.ndarray], diverged: np.ndarray,
          wall: float) -> list[dict[str, Any]]:
    """The store's rows of one batch: configuration, final and best metrics, divergence
    (a flagged path or any non-finite metric), provenance."""
    bid = batch_id(runs)
    device = device_name()
    rows = []
    for i, run in enumerate(runs):
        values = {k: v[i] for k, v in metrics.items()}
        bad = bool(diverged[i]) or not all(np.all(np.isfinite(v)) for v in values.values())
        if bad:
            best, best_step = float("nan"), None
            final = dict.fromkeys(METRICS, float("nan"))
        else:
            index = int(np.argmax(values["test_accuracy"]))
            best, best_step = float(values["test_accuracy"][index]), run.save_steps[index]
            final = {k: float(v[-1]) for k, v in values.items()}
        row = dataclasses.asdict(run)
        row["classes"] = (None if run.classes is None
                          else ",".join(str(c) for c in run.classes))
        row["optimizer_options"] = json.dumps(dict(run.optimizer_options), sort_keys=True)
        row.update(
            run_id=run.run_id, batch_id=bid, sde_time=run.sde_time,
            noise_scale=run.noise_scale, diverged=bad,
            final_test_accuracy=final["test_accuracy"], best_test_accuracy=best,
            best_step=best_step, final_test_loss=final["test_loss"],
            final_train_loss=final["train_loss"],
            final_train_accuracy=final["train_accuracy"], wall_seconds=wall,
            batch_runs=len(runs), device=device, n_devices=jax.device_count(),
            sgdsde_version=__version__,
        )
        rows.append(row)
    return rows


def batch_rows(config: SweepConfig, runs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    """The rows of one batch of `config`'s runs (sharing N, B, updates and checkpoints),
    computed in this process."""
    per_seed = surfaces(config, runs[0].n_train)
    start = time.perf_counter()
    metrics, diverged = _run(runs, per_seed, config.optimizer_config())
    return _rows(runs, metrics, diverged, time.perf_counter() - start)
