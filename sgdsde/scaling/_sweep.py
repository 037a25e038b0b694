"""Driving a sweep: every run of a :class:`~sgdsde.scaling.SweepConfig` not yet in the results
store, in compiled vmapped batches (:mod:`sgdsde.scaling._plan`) computed by an executor (in
this process, or on a Dask cluster: :mod:`sgdsde.scaling._executors`), one atomic Parquet file
per finished batch written by the driver alone (:mod:`sgdsde.scaling._store`), so a killed
sweep resumes where it stopped. One driver per results folder (:mod:`sgdsde.scaling._lock`).
"""

from __future__ import annotations

import dataclasses
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..errors import SGDSDEError, SweepDirError
from . import _store as store
from ._config import SweepConfig, parse_config
from ._executors import Executor, InProcessExecutor
from ._lock import sweep_lock
from ._plan import batch_id, expand, pending_batches

CONFIG_NAME = "sweep.toml"


def _normalised(text: str) -> dict[str, Any]:
    return parse_config(tomllib.loads(text)).to_dict()


def prepare_out(out: str | os.PathLike, config: SweepConfig, text: str,
                force: bool = False) -> None:
    """Create `out`, refuse a folder that holds a different sweep (unless `force`), store
    the config as ``sweep.toml`` and remove temporary files of a killed writer — under the
    folder's driver lock (:class:`SweepDirError` while another driver runs there)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepDirError(f"--out={str(out)!r} exists and is not a folder")
    with sweep_lock(out):
        _prepare(out, config, text, force)


def _prepare(out: Path, config: SweepConfig, text: str, force: bool) -> None:
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


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
    executor: Executor | None = None,
) -> SweepSummary:
    """Run every run of `config` not yet in the store at `out` (call :func:`prepare_out`
    first) with `executor` (default :class:`InProcessExecutor`), holding the folder's driver
    lock, and write each batch as it finishes. `on_progress(done, total, message)` is called
    whenever a batch starts or is written."""
    start = time.perf_counter()
    executor = executor or InProcessExecutor()
    report = on_progress or (lambda *_: None)
    with sweep_lock(out):
        runs = expand(config)
        done_ids = store.finished_ids(out)
        total = len(runs)
        done = skipped = sum(r.run_id in done_ids for r in runs)
        batches = pending_batches(runs, config.max_batch, done_ids)
        message = ""

        def status(text: str) -> None:
            nonlocal message
            message = text
            report(done, total, message)

        ran = diverged = written = 0
        for batch, rows in executor.run(config, batches, status):
            store.write_batch(out, batch_id(batch), rows)
            diverged += sum(row["diverged"] for row in rows)
            written += 1
            ran += len(batch)
            done += len(batch)
            report(done, total, message)
        report(done, total, "")
    return SweepSummary(total=total, skipped=skipped, ran=ran, diverged=diverged,
                        batches=written, wall_seconds=time.perf_counter() - start)
