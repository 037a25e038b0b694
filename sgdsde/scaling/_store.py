"""Append-only, crash-safe results store: a folder of Parquet files, one per finished batch.

Each batch of runs is written atomically (:func:`sgdsde._io.atomic_write`: a hidden temporary
file in the store's folder, fsynced, renamed over its final name ``part-<batch id>.parquet``),
so a reader never sees a partial file and a process killed at any moment (SIGKILL included)
loses at most the batch it was writing. Readers only look at ``part-*.parquet``; temporary
files left by a killed writer are removed by :func:`clean_temporary`.
Rows are keyed by ``run_id``; :func:`read_results` drops duplicates (first file in name order
wins), so re-running a sweep can never double a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._io import TEMP_PREFIX as TEMP_PREFIX
from .._io import atomic_write, remove_temporary

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"

#: Column names and Arrow types of every row, in order.
SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("batch_id", pa.string()),
    # data
    ("dataset", pa.string()),
    ("n_train", pa.int64()),
    ("n_test", pa.int64()),
    ("classes", pa.string()),
    ("data_seed", pa.int64()),
    # model
    ("model", pa.string()),
    ("width", pa.int64()),
    ("l2", pa.float64()),
    # SGD
    ("lr", pa.float64()),
    ("batch_size", pa.int64()),
    ("momentum", pa.float64()),
    ("replacement", pa.bool_()),
    ("seed", pa.int64()),
    ("optimizer", pa.string()),
    ("optimizer_options", pa.string()),  # JSON object of the non-default hyper-parameters
    # budget and evaluation
    ("budget_kind", pa.string()),
    ("budget_amount", pa.float64()),
    ("checkpoints", pa.int64()),
    ("updates", pa.int64()),
    ("sde_time", pa.float64()),
    ("noise_scale", pa.float64()),
    # results
    ("diverged", pa.bool_()),
    ("final_test_accuracy", pa.float64()),
    ("best_test_accuracy", pa.float64()),
    ("best_step", pa.int64()),
    ("final_test_loss", pa.float64()),
    ("final_train_loss", pa.float64()),
    ("final_train_accuracy", pa.float64()),
    # provenance
    ("wall_seconds", pa.float64()),
    ("batch_runs", pa.int64()),
    ("device", pa.string()),
    ("n_devices", pa.int64()),
    ("sgdsde_version", pa.string()),
])
COLUMNS = tuple(SCHEMA.names)
#: Values of columns added since the first stores, for rows written before them.
_ADDED_COLUMNS = {"optimizer": "sgd", "optimizer_options": "{}"}


def part_files(folder: str | os.PathLike) -> list[Path]:
    """The finished batch files of a store, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(PART_PREFIX) and p.name.endswith(PART_SUFFIX))


def clean_temporary(folder: str | os.PathLike) -> int:
    """Remove temporary files a killed writer left behind; returns how many."""
    return remove_temporary(folder)


def rows_to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts with exactly the :data:`COLUMNS`) as a table of :data:`SCHEMA`."""
    for row in rows:
        if set(row) != set(COLUMNS):
            missing, extra = set(COLUMNS) - set(row), set(row) - set(COLUMNS)
            raise ValueError(f"row does not match the schema: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
    return pa.Table.from_pylist([dict(row) for row in rows], schema=SCHEMA)


def write_batch(folder: str | os.PathLike, batch_id: str,
                rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write one batch atomically as ``part-<batch_id>.parquet`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = rows_to_table(rows)
    final = folder / f"{PART_PREFIX}{batch_id}{PART_SUFFIX}"
    return atomic_write(final, lambda stream: pq.write_table(table, stream))


def read_results(folder: str | os.PathLike) -> pa.Table:
    """Every row of the store (empty table of :data:`SCHEMA` when there is none), one per
    run_id, sorted by run_id."""
    tables = [pq.read_table(path, schema=SCHEMA) for path in part_files(folder)]
    if not tables:
        return SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    for name, value in _ADDED_COLUMNS.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pc.fill_null(table.column(name), value))
    seen: set[str] = set()
    keep = []
    for index, run_id in enumerate(table.column("run_id").to_pylist()):
        if run_id not in seen:
            seen.add(run_id)
            keep.append(index)
    table = table.take(keep)
    return table.sort_by("run_id")


def finished_ids(folder: str | os.PathLike) -> set[str]:
    """run_ids already in the store."""
    ids: set[str] = set()
    for path in part_files(folder):
        ids.update(pq.read_table(path, columns=["run_id"]).column("run_id").to_pylist())
    return ids


def rows(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """:func:`read_results` as a list of dicts."""
    return read_results(folder).to_pylist()
