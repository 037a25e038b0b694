"""Running a sweep: every run of a :class:`~sgdsde.scaling.SweepConfig` not yet in the results
store, in compiled vmapped batches (:mod:`sgdsde.scaling._plan`), one atomic Parquet file per
finished batch (:mod:`sgdsde.scaling._store`), so a killed sweep resumes where it stopped.

Run r uses the network initialised from its ``seed`` and the minibatch keys
``path_keys(seed, 1, Stream.MINIBATCH)`` — the same as ``sgdsde learned --paths 1``. With
several devices the run axis of a batch is sharded over a 1-D mesh (``NamedSharding``), padded
to a multiple of the device count.
"""

from __future__ import annotations

import dataclasses
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._io import atomic_write_text
from .._version import __version__
from ..brownian import Stream, path_keys
from ..errors import SGDSDEError, SweepConfigError, SweepDirError
from ..learning import load_dataset
from ..results import device_name, diverged_paths
from ..sgd import sgd_trajectories
from ..surfaces import METRICS, LearnedSurface, learned_surface
from . import _store as store
from ._config import SweepConfig, parse_config
from ._plan import RunSpec, batch_id, expand, plan_batches

DIVERGENCE_BOUND = 1e8
CONFIG_NAME = "sweep.toml"


def _normalised(text: str) -> dict[str, Any]:
    return parse_config(tomllib.loads(text)).to_dict()


def prepare_out(out: str | os.PathLike, config: SweepConfig, text: str,
                force: bool = False) -> None:
    """Create `out`, refuse a folder that holds a different sweep (unless `force`), store
    the config as ``sweep.toml`` and remove temporary files of a killed writer."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepDirError(f"--out={str(out)!r} exists and is not a folder")
    stored = out / CONFIG_NAME
    if stored.exists() and not force:
        try:
            previous = _normalised(stored.read_text())
        except (SGDSDEError, tomllib.TOMLDecodeError, OSError):
            previous = None
        if previous != config.to_dict():
            changed = sorted(k for k in config.to_dict()
                             if previous is None or previous.get(k) != config.to_dict()[k])
            raise SweepDirError(
                f"--out={str(out)!r} holds a different sweep ({stored} differs in: "
                f"{', '.join(changed)}); use another folder, or --force to run this config "
                "there anyway (finished runs of the old config stay in the results)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not stored.exists() or force:
            atomic_write_text(stored, text)
        store.clean_temporary(out)
    except OSError as exc:
        raise SweepDirError(f"--out={str(out)!r} cannot be written: {exc}") from None


@dataclasses.dataclass
class SweepSummary:
    """Counts of one :func:`run_sweep` call: runs in the grid, skipped (already stored), ran,
    diverged (flagged or non-finite metric), batches written, and wall-clock seconds."""

    total: int
    skipped: int
    ran: int
    diverged: int
    batches: int
    wall_seconds: float


@eqx.filter_jit
def _group_metrics(surface, theta0, lr, momentum, keys, save_steps, *, batch, bound):
    """Metrics (R, S) and divergence flags (R,) of R runs sharing B, N, updates and the save
    steps (one unbatched (S,) array: the step counter then stays unbatched under vmap, so the
    once-per-epoch reshuffle remains a real branch instead of running at every step)."""

    def one(th, e, m, k, s):
        return sgd_trajectories(surface, th, e, m, k, s, batch=batch, coupling=None)[0]

    theta = jax.vmap(one, in_axes=(0, 0, 0, 0, None))(theta0, lr, momentum, keys, save_steps)
    metrics = jax.vmap(jax.vmap(surface.metrics))(theta)
    return metrics, diverged_paths(theta, bound)


def _load_surfaces(config: SweepConfig, n_trains: Sequence[int]
                   ) -> dict[int, dict[int, LearnedSurface]]:
    """One surface per (N, seed) of the runs still to do, before anything compiles (a too-large
    n_train or a missing IDX file fails here, as a :class:`SweepConfigError`)."""
    surfaces = {}
    for n_train in n_trains:
        try:
            data = load_dataset(config.dataset, n_train=n_train, n_test=config.n_test,
                                classes=config.classes, seed=config.data_seed,
                                idx_dir=config.idx_dir)
        except SGDSDEError as exc:
            raise SweepConfigError(f"[data] with n_train={n_train}: {exc}") from None
        except (OSError, ValueError) as exc:  # IDX files missing or malformed
            raise SweepConfigError(
                f"config key data.dataset={config.dataset!r}: {exc}") from None
        surfaces[n_train] = {
            seed: learned_surface(data, config.model, width=config.width or 1, l2=config.l2,
                                  seed=seed)
            for seed in config.seeds
        }
    return surfaces


def _run_batch(runs: Sequence[RunSpec], per_seed: dict[int, LearnedSurface]
               ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Metrics (runs, checkpoints) and divergence flags of one batch, in one compiled call
    (sharded over the devices when there are several)."""
    devices = jax.devices()
    first = runs[0]
    surface = next(iter(per_seed.values()))
    padded = list(runs) + [runs[-1]] * (-len(runs) % len(devices))
    dtype = surface.theta_init.dtype
    inputs = (
        jnp.stack([per_seed[r.seed].theta_init for r in padded]),
        jnp.asarray([r.lr for r in padded], dtype),
        jnp.asarray([r.momentum for r in padded], dtype),
        jnp.stack([path_keys(r.seed, 1, Stream.MINIBATCH) for r in padded]),
    )
    if len(devices) > 1:
        sharding = NamedSharding(Mesh(np.array(devices), ("runs",)), PartitionSpec("runs"))
        inputs = tuple(jax.device_put(x, sharding) for x in inputs)
    metrics, diverged = _group_metrics(
        surface, *inputs, jnp.asarray(first.save_steps, jnp.int32),
        batch=(first.batch_size, first.n_train, first.replacement), bound=DIVERGENCE_BOUND)
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


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepSummary:
    """Run every run of `config` not yet in the store at `out` (call :func:`prepare_out`
    first). `on_progress(done, total, message)` is called before and after each batch."""
    start = time.perf_counter()
    runs = expand(config)
    done_ids = store.finished_ids(out)
    total = len(runs)
    done = skipped = sum(r.run_id in done_ids for r in runs)
    report = on_progress or (lambda *_: None)
    report(done, total, "loading data")
    surfaces = _load_surfaces(config, sorted({r.n_train for r in runs
                                              if r.run_id not in done_ids}))
    ran = diverged_count = written = 0
    for batch in plan_batches(runs, config.max_batch):
        todo = [r for r in batch if r.run_id not in done_ids]
        if not todo:
            continue
        first = todo[0]
        report(done, total, f"N={first.n_train} B={first.batch_size} "
               f"{first.updates} updates, {len(todo)} runs")
        batch_start = time.perf_counter()
        metrics, diverged = _run_batch(todo, surfaces[first.n_train])
        rows = _rows(todo, metrics, diverged, time.perf_counter() - batch_start)
        store.write_batch(out, batch_id(todo), rows)
        diverged_count += sum(row["diverged"] for row in rows)
        written += 1
        ran += len(todo)
        done += len(todo)
        done_ids.update(r.run_id for r in todo)
        report(done, total, "")
    return SweepSummary(total=total, skipped=skipped, ran=ran, diverged=diverged_count,
                        batches=written, wall_seconds=time.perf_counter() - start)
