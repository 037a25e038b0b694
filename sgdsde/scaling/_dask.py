"""A sweep's batches as tasks on a Dask cluster (``pip install 'sgdsde[dask]'``).

One task per batch of :func:`~sgdsde.scaling.plan_batches` — never split or padded, since the
width of a vmapped call changes round-off — so the rows are the in-process rows bit for bit
on the same kind of device. The task, :func:`compute_batch`, gets the config and the batch's
runs (pickled), builds the data and surfaces on the worker (kept for its next batches),
turns on the persistent compilation cache the driver names, and returns the rows; the driver
writes each batch atomically as its task returns, so workers need no shared file system.

Dask does the rest: a worker that dies mid-task (killed, out of memory, a lost node) has its
tasks rerun on another worker — up to ``distributed.scheduler.allowed-failures`` deaths per
task, then the batch is reported as failed and the sweep can be resumed. Tasks ask for the
worker resources given (e.g. ``{"GPU": 1}``), so only workers started with them
(``dask worker ... --resources GPU=1``) take them; the driver checks that a worker offers
them before submitting, and gives up when no suitable worker has been connected for
`worker_wait` seconds (tasks would otherwise wait forever).

Every server this module starts (``local_workers``) listens on 127.0.0.1 only.
"""

from __future__ import annotations

import collections
import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._validation import check_int, check_number
from ..cache import enable_compile_cache
from ..errors import ClusterError, IncompatibleChoiceError
from ._batch import batch_rows, load_data
from ._config import SweepConfig
from ._executors import BatchResult, Status
from ._plan import RunSpec, batch_id

#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT = 5.0
#: Seconds a sweep waits for a worker that can take its tasks.
WORKER_WAIT = 60.0
_POLL = 0.05  # seconds between looks at the finished tasks
_WATCH = 2.0  # seconds between looks at the workers


def compute_batch(config: SweepConfig, runs: Sequence[RunSpec],
                  compile_cache: str | None) -> list[dict[str, Any]]:
    """The Dask task: the rows of one batch, computed on the worker (with the persistent
    compilation cache in folder `compile_cache` unless None)."""
    if compile_cache is not None:
        enable_compile_cache(compile_cache)
    return batch_rows(config, runs)


def _distributed() -> Any:
    """The ``distributed`` package, or a :class:`ClusterError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError("running a sweep on Dask needs the dask extra: "
                           "pip install 'sgdsde[dask]'") from None
    return distributed


def _checked(resources: Mapping[str, float] | None) -> dict[str, float]:
    """Worker resources a task asks for: names with amounts > 0."""
    return {name: check_number(f"resources[{name!r}]", amount, above=0.0)
            for name, amount in (resources or {}).items()}


def _reason(future: Any) -> str:
    """Why a task did not finish: its exception, or its status (cancelled, lost)."""
    if future.status != "error":
        return future.status
    exception = future.exception()
    return f"{type(exception).__name__}: {exception}"


def _shown(resources: Mapping[str, float]) -> str:
    return ",".join(f"{name}={amount:g}" for name, amount in resources.items())


class DaskExecutor:
    """Runs a sweep's batches as tasks of the Dask cluster behind `client` (a
    ``distributed.Client``), at most two per suitable worker in flight, each asking for
    `resources`; workers use the persistent compilation cache in `compile_cache` (a folder
    on the workers' machines; None: off). Pass it to :func:`~sgdsde.scaling.run_sweep`."""

    def __init__(self, client: Any, *, resources: Mapping[str, float] | None = None,
                 compile_cache: str | None = None, worker_wait: float = WORKER_WAIT):
        self.client = client
        self.resources = _checked(resources)
        self.compile_cache = compile_cache
        self.worker_wait = worker_wait

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self.client.scheduler.address

    def _workers(self) -> dict[str, Mapping[str, Any]]:
        try:
            return self.client.scheduler_info(n_workers=-1)["workers"]
        except OSError as exc:
            raise ClusterError(f"lost the connection to the Dask scheduler at {self.address}: "
                               f"{exc}; finished batches are written, run again to resume"
                               ) from None

    def suitable_workers(self) -> int:
        """How many connected workers offer the tasks' resources."""
        return sum(all(info.get("resources", {}).get(name, 0) >= amount
                       for name, amount in self.resources.items())
                   for info in self._workers().values())

    def check_workers(self) -> None:
        """Wait up to `worker_wait` s for a first worker; :class:`ClusterError` if none comes,
        or if no worker offers the resources (naming them and what the workers offer)."""
        try:
            self.client.wait_for_workers(1, timeout=self.worker_wait)
        except TimeoutError:
            raise ClusterError(f"no worker connected to the Dask scheduler at {self.address} "
                               f"within {self.worker_wait:g} s; start workers with `dask "
                               f"worker {self.address}`") from None
        if self.resources and not self.suitable_workers():
            offered = "; ".join(f"{address}: {_shown(info.get('resources', {})) or 'none'}"
                                for address, info in self._workers().items())
            raise ClusterError(
                f"no worker of the Dask cluster at {self.address} offers the resources "
                f"{_shown(self.resources)} the sweep's tasks need (workers offer: {offered}); "
                f"start workers with `dask worker {self.address} --resources "
                f"{_shown(self.resources)}`, or run without --resources")

    def run(self, config: SweepConfig, batches: Sequence[Sequence[RunSpec]],
            status: Status) -> Iterator[BatchResult]:
        """See :meth:`~sgdsde.scaling.Executor.run`. Batches whose tasks fail are reported
        together at the end (:class:`ClusterError`), after every other batch is yielded."""
        distributed = _distributed()
        status("checking data")
        for n_train in sorted({batch[0].n_train for batch in batches}):
            load_data(config, n_train)
        token = uuid.uuid4().hex[:8]
        queue = collections.deque(batches)
        running: dict[Any, Sequence[RunSpec]] = {}
        finished = distributed.as_completed(loop=self.client.loop)
        failed: list[str] = []

        def submit() -> None:
            workers = self.suitable_workers()
            while queue and len(running) < 2 * max(1, workers):
                batch = queue.popleft()
                future = self.client.submit(
                    compute_batch, config, list(batch), self.compile_cache,
                    key=f"sgdsde-batch-{batch_id(batch)}-{token}", pure=False,
                    resources=self.resources or None)
                running[future] = batch
                finished.add(future)
            if running:
                status(f"{len(running)} batches on {workers} Dask workers")

        submit()
        watched, without_workers = time.monotonic(), None
        try:
            while running:
                ready = finished.next_batch(block=False)
                if not ready:
                    if time.monotonic() - watched > _WATCH:
                        watched = time.monotonic()
                        without_workers = self._watch(without_workers)
                    time.sleep(_POLL)
                    continue
                for future in ready:
                    batch = running.pop(future)
                    rows = future.result() if future.status == "finished" else None
                    if rows is None:
                        failed.append(f"{batch_id(batch)} ({_reason(future)})")
                    future.release()
                    submit()
                    if rows is not None:
                        yield batch, rows
        finally:
            if running:
                self.client.cancel(list(running))
        if failed:
            raise ClusterError(f"{len(failed)} batch(es) failed on the Dask cluster, every "
                               f"other batch is written; run again to resume: "
                               f"{'; '.join(failed)}")

    def _watch(self, since: float | None) -> float | None:
        """Track how long the cluster has had no suitable worker (`since`: when that began,
        None while there is one); :class:`ClusterError` after `worker_wait` seconds."""
        if self.suitable_workers():
            return None
        if since is None:
            return time.monotonic()
        if time.monotonic() - since > self.worker_wait:
            wanted = f" offering {_shown(self.resources)}" if self.resources else ""
            raise ClusterError(f"no worker{wanted} has been connected to the Dask scheduler "
                               f"at {self.address} for {self.worker_wait:g} s; finished "
                               "batches are written: start workers and run again to resume")
        return since


@contextlib.contextmanager
def dask_executor(*, scheduler: str | None = None, local_workers: int | None = None,
                  resources: Mapping[str, float] | None = None,
                  compile_cache: str | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT) -> Iterator[DaskExecutor]:
    """A :class:`DaskExecutor` on the scheduler at address `scheduler` (``tcp://HOST:PORT``),
    or on a cluster of `local_workers` worker processes on this machine (scheduler and
    workers listening on 127.0.0.1 only, one thread each), closed (the local cluster shut
    down) on exit. The workers are checked first (:meth:`DaskExecutor.check_workers`);
    :class:`ClusterError` when the scheduler cannot be reached within `connect_timeout`
    seconds."""
    if (scheduler is None) == (local_workers is None):
        raise IncompatibleChoiceError(
            f"give one of scheduler={scheduler!r} and local_workers={local_workers!r}: a "
            "sweep runs on one cluster", names=("scheduler", "local_workers"))
    check_int("local_workers", local_workers, 1, optional=True)
    _checked(resources)
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = distributed.Client(scheduler, timeout=connect_timeout,
                                            set_as_default=False)
            except (OSError, ValueError) as exc:
                raise ClusterError(f"scheduler={scheduler!r}: no Dask scheduler answered "
                                   f"there within {connect_timeout:g} s ({exc})") from None
        else:
            import dask

            with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=local_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", scheduler_port=0, protocol="tcp",
                    dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0"))
            client = distributed.Client(cluster, set_as_default=False)
        stack.enter_context(client)
        executor = DaskExecutor(client, resources=resources, compile_cache=compile_cache)
        executor.check_workers()
        yield executor
