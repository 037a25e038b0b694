"""A sweep's results per (ε, N, m) slice, as a seeds × batch-sizes matrix of the metric.

The input is a table of runs, one row per (lr, batch_size, momentum, n_train, seed), given as a
``dict[str, np.ndarray]`` of columns or any object with ``to_pydict()`` (a pyarrow Table);
pandas is not needed. Rows with ``diverged`` true, or a non-finite metric, become NaN cells and
are counted; a batch size left with no finite run leaves that slice's grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The columns that identify a slice.
KEY = ("lr", "n_train", "momentum")


def as_columns(table: Any, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The table as a dict of 1-D numpy columns (accepts a mapping of columns or an object with
    ``to_pydict()``, e.g. a pyarrow Table); raises ValueError on missing columns or ragged
    lengths."""
    if hasattr(table, "to_pydict"):
        table = table.to_pydict()
    if not isinstance(table, Mapping):
        raise TypeError("table must be a mapping of columns or have to_pydict()")
    cols = {str(k): np.asarray(v) for k, v in table.items()}
    missing = [c for c in required if c not in cols]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths {sorted(lengths)}")
    return cols


def maximizes(metric: str, maximize: bool | None = None) -> bool:
    """Whether larger is better: an explicit `maximize`, else False for a metric named *loss*."""
    return ("loss" not in metric) if maximize is None else maximize


@dataclasses.dataclass(frozen=True)
class Slice:
    """The runs of one (ε, N, m): `values[s, j]` is the metric (sign-flipped to "larger is
    better" when minimised) of seed `seeds[s]` at batch size `batch_sizes[j]`, NaN where the run
    diverged, was non-finite or is missing."""

    lr: float
    n_train: int
    momentum: float
    metric: str
    maximize: bool
    batch_sizes: np.ndarray
    seeds: np.ndarray
    values: np.ndarray
    n_runs: int
    n_diverged: int
    n_nonfinite: int
    dropped_batch_sizes: tuple[int, ...]

    @property
    def log_b(self) -> np.ndarray:
        """ln B of the slice's grid."""
        return np.log(self.batch_sizes.astype(float))


def slices_of(table: Any, metric: str = "final_test_accuracy", *,
              maximize: bool | None = None) -> list[Slice]:
    """Every (ε, N, m) slice of `table`, sorted by (N, m, ε). Raises ValueError when a slice
    has two rows for one (seed, batch size)."""
    cols = as_columns(table, ("lr", "batch_size", "momentum", "n_train", "seed", metric))
    up = maximizes(metric, maximize)
    sign = 1.0 if up else -1.0
    keys = sorted({(float(a), int(b), float(c)) for a, b, c in
                   zip(cols["lr"], cols["n_train"], cols["momentum"], strict=True)},
                  key=lambda t: (t[1], t[2], t[0]))
    out = []
    for key in keys:
        mask = ((cols["lr"].astype(float) == key[0]) & (cols["n_train"].astype(int) == key[1])
                & (cols["momentum"].astype(float) == key[2]))
        seeds_all = cols["seed"][mask]
        b_all = cols["batch_size"][mask].astype(int)
        y_all = sign * cols[metric][mask].astype(float)
        diverged = (cols["diverged"][mask].astype(bool) if "diverged" in cols
                    else np.zeros(y_all.size, bool))
        nonfinite = ~diverged & ~np.isfinite(y_all)
        keep = ~diverged & ~nonfinite
        grid = np.unique(b_all[keep])
        seeds = np.unique(seeds_all)
        values = np.full((seeds.size, grid.size), np.nan)
        si = np.searchsorted(seeds, seeds_all[keep])
        bi = np.searchsorted(grid, b_all[keep])
        if np.unique(si * max(grid.size, 1) + bi).size != si.size:
            raise ValueError(f"slice {key}: duplicate (seed, batch_size) rows")
        values[si, bi] = y_all[keep]
        dropped = tuple(int(b) for b in np.unique(b_all) if b not in set(grid.tolist()))
        out.append(Slice(lr=key[0], n_train=key[1], momentum=key[2], metric=metric,
                         maximize=up, batch_sizes=grid, seeds=seeds, values=values,
                         n_runs=int(mask.sum()), n_diverged=int(diverged.sum()),
                         n_nonfinite=int(nonfinite.sum()), dropped_batch_sizes=dropped))
    return out
