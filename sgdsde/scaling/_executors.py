"""Where a sweep's batches run. An executor takes the batches still to run and yields each
one with its rows as it finishes; only the driver (:func:`~sgdsde.scaling.run_sweep`) writes
them. :class:`InProcessExecutor` runs them here; :class:`~sgdsde.scaling.DaskExecutor` sends
them to a Dask cluster. Both make the rows with :func:`sgdsde.scaling._batch.batch_rows`, so
they agree bit for bit on the same kind of device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from .._validation import check_int
from ._batch import batch_rows, surfaces
from ._config import SweepConfig
from ._plan import RunSpec

#: A finished batch: its runs and their rows (the store's columns).
BatchResult = tuple[Sequence[RunSpec], list[dict[str, Any]]]
#: Called with a short description of what runs now (for a progress bar).
Status = Callable[[str], None]


class Executor(Protocol):
    """Runs batches of a sweep."""

    def run(self, config: SweepConfig, batches: Sequence[Sequence[RunSpec]],
            status: Status) -> Iterator[BatchResult]:
        """Compute every batch of `config`'s runs in `batches` (each one compiled call),
        yielding each with its rows as soon as it is done, in any order. Bad input (data that
        cannot be loaded) raises before anything is compiled."""
        ...


def describe(batch: Sequence[RunSpec]) -> str:
    """A batch in a few words, e.g. ``N=512 B=8 1500 updates, 4 runs``."""
    first = batch[0]
    return (f"N={first.n_train} B={first.batch_size} {first.updates} updates, "
            f"{len(batch)} runs")


@dataclasses.dataclass(frozen=True)
class InProcessExecutor:
    """Runs the batches in this process, `concurrency` at a time (threads): one batch
    compiles while another runs, and on a CPU the batches' mostly sequential update loops
    share the cores. Every batch is the same compiled call as it would be alone, so the rows
    do not depend on `concurrency`."""

    concurrency: int = 2

    def __post_init__(self) -> None:
        check_int("concurrency", self.concurrency, 1)

    def run(self, config: SweepConfig, batches: Sequence[Sequence[RunSpec]],
            status: Status) -> Iterator[BatchResult]:
        """See :meth:`Executor.run`; the data of every N is loaded first."""
        status("loading data")
        for n_train in sorted({batch[0].n_train for batch in batches}):
            surfaces(config, n_train)
        queue = iter(batches)
        running: dict[Future, Sequence[RunSpec]] = {}
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sgdsde-batch") as pool:

            def start_next() -> None:
                batch = next(queue, None)
                if batch is not None:
                    running[pool.submit(batch_rows, config, batch)] = batch
                    status(describe(batch))

            for _ in range(self.concurrency):
                start_next()
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        batch = running.pop(future)
                        rows = future.result()
                        start_next()
                        yield batch, rows
            finally:
                for future in running:
                    future.cancel()
