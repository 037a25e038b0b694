"""Sweeps on a real Dask cluster (a scheduler and two workers as separate processes, listening
on 127.0.0.1 only, started and stopped here): the rows equal the in-process rows bit for bit;
a worker killed mid-task has its task rerun and the rows stay the same; a driver killed with
SIGKILL resumes without redoing finished runs; a second driver on the same folder is refused;
``--local-workers``; the persistent compilation cache shared by a second process and by the
workers; and bad input (unreachable scheduler, missing resources, bad flags)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from distributed import Client
from test_sweep import BASE, DRIVER, cpu_env
from tolerances import assert_one_line_error
from typer.testing import CliRunner

from sgdsde.cli import app
from sgdsde.errors import ClusterError, ParameterRangeError, SweepDirError
from sgdsde.scaling import (
    DaskExecutor,
    InProcessExecutor,
    parse_text,
    prepare_out,
    run_sweep,
    store,
)

#: BASE with batches long enough (seconds each) to kill a process in the middle of one.
SLOW = BASE.replace("amount = 30", "amount = 20000")
DASK = str(Path(sys.executable).with_name("dask"))
LOOPBACK = "127.0.0.1"
WAIT = 120  # seconds: the most any step of these tests may take


def wait_until(condition, what: str, timeout: float = WAIT, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)
    return value


def listening(pids) -> set[tuple[str, int]]:
    """(address, port) of every listening socket of these processes and their children."""
    found = set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for member in [process, *process.children(recursive=True)]:
                found |= {(c.laddr.ip, c.laddr.port) for c in member.net_connections("inet")
                          if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return found


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process (last started first), then SIGKILL what is left after 30 s."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


class Cluster:
    """`dask scheduler` and `dask worker --nworkers 2` (one thread each), 127.0.0.1 only."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        scheduler_file = folder / "scheduler.json"
        self._start("scheduler", "scheduler", "--host", LOOPBACK, "--port", "0",
                    "--no-dashboard", "--dashboard-address", f"{LOOPBACK}:0",
                    "--scheduler-file", str(scheduler_file))
        wait_until(scheduler_file.exists, "the scheduler file")
        self.address = json.loads(scheduler_file.read_text())["address"]
        self._start("worker", "worker", self.address, "--host", LOOPBACK, "--no-dashboard",
                    "--dashboard-address", f"{LOOPBACK}:0", "--nworkers", "2", "--nthreads",
                    "1", "--death-timeout", "60")
        self.client = Client(self.address, timeout=30, set_as_default=False)
        self.client.wait_for_workers(2, timeout=WAIT)

    def _start(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes.append(subprocess.Popen([DASK, *args], stdout=log, stderr=log,
                                               stdin=subprocess.DEVNULL, env=cpu_env()))

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def close(self) -> None:
        self.client.close()
        stop(self.processes)


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory) -> Path:
    """One persistent compilation cache for every process of this module."""
    return tmp_path_factory.mktemp("jax-cache")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.close()


def sweep_args(config: Path, out: Path, cache: Path | None, *extra: str) -> list[str]:
    cache_option = ["--no-compile-cache"] if cache is None else ["--compile-cache", str(cache)]
    return [*cache_option, "sweep", str(config), "--out", str(out), *extra]


def driver(config: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen:
    """The command line as its own process."""
    return subprocess.Popen([sys.executable, "-c", DRIVER, *sweep_args(config, out, cache,
                                                                       *extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cpu_env())


def finish(process: subprocess.Popen) -> str:
    """Wait for a driver; its stderr with runs of white space as one space (the test fails
    if it did not exit 0)."""
    _, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    return " ".join(err.split())


def all_rows(out: Path) -> dict[str, dict]:
    """Every row of every part file (a run stored twice fails), without wall_seconds."""
    rows: dict[str, dict] = {}
    for part in store.part_files(out):
        for row in pq.read_table(part).to_pylist():
            assert row["run_id"] not in rows, f"run {row['run_id']} stored twice"
            row.pop("wall_seconds")
            rows[row["run_id"]] = row
    return rows


def assert_same_rows(out: Path, expected: Path) -> None:
    """Bit for bit: every column but wall_seconds (NaN equal to NaN)."""
    actual, wanted = all_rows(out), all_rows(expected)
    assert actual.keys() == wanted.keys()
    for run_id, row in wanted.items():
        for key, value in row.items():
            if key in ("batch_id", "device", "n_devices", "sgdsde_version"):
                continue
            got = actual[run_id][key]
            same = got == value or (isinstance(value, float) and math.isnan(value)
                                    and math.isnan(got))
            assert same, (run_id, key, got, value)


def reference_run(folder: Path, text: str, cache: Path) -> tuple[Path, Path, str]:
    """A config, its uninterrupted in-process sweep (one subprocess, one CPU) and the
    sweep's stderr."""
    config = folder / "sweep.toml.in"
    config.write_text(text)
    err = finish(driver(config, folder / "reference", cache))
    return config, folder / "reference", err


@pytest.fixture(scope="module")
def slow(tmp_path_factory, compile_cache) -> tuple[Path, Path, str]:
    """SLOW in process, the first process to use the module's compilation cache."""
    return reference_run(tmp_path_factory.mktemp("slow"), SLOW, compile_cache)


@pytest.fixture(scope="module")
def base(tmp_path_factory, compile_cache, slow) -> tuple[Path, Path, str]:
    """BASE in process, after SLOW: the same compiled shapes (only the traced update count
    differs)."""
    return reference_run(tmp_path_factory.mktemp("base"), BASE, compile_cache)


# ------------------------------------------------------------------------ the cluster


def test_cluster_listens_on_loopback_only(cluster):
    sockets = listening(p.pid for p in cluster.processes)
    assert len(sockets) >= 6  # scheduler comm + http, per worker: nanny, comm, http
    assert {address for address, _ in sockets} == {LOOPBACK}


def test_rows_equal_in_process_and_workers_reuse_the_cache(cluster, base, compile_cache,
                                                             tmp_path):
    config, reference, _ = base
    entries = set(os.listdir(compile_cache))
    err = finish(driver(config, tmp_path / "out", compile_cache, "--scheduler",
                        cluster.address))
    assert f"18 runs in 3 batches on the Dask cluster at {cluster.address}" in err
    assert_same_rows(tmp_path / "out", reference)
    assert set(os.listdir(compile_cache)) == entries  # the workers compiled nothing new


def test_worker_killed_mid_task_has_its_task_rerun(cluster, slow, compile_cache, tmp_path):
    config, reference, _ = slow
    before = cluster.worker_pids()
    process = driver(config, tmp_path / "out", compile_cache, "--scheduler", cluster.address)
    try:
        busy = wait_until(lambda: [address for address, n in cluster.client.run(
            lambda dask_worker: len(dask_worker.state.executing)).items() if n],
            "a worker executing a task", poll=0.02)
        os.kill(before[busy[0]], signal.SIGKILL)
        err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "18 runs in 3 batches" in err
    assert_same_rows(tmp_path / "out", reference)
    cluster.client.wait_for_workers(2, timeout=WAIT)  # the nanny restarted the killed one
    assert before[busy[0]] not in cluster.worker_pids().values()


def test_killed_driver_resumes_without_redoing_runs(cluster, slow, compile_cache, tmp_path):
    config, reference, _ = slow
    out = tmp_path / "out"
    process = driver(config, out, compile_cache, "--scheduler", cluster.address)
    try:
        wait_until(lambda: store.part_files(out) or process.poll() is not None,
                   "a first batch", poll=0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    written = len(store.part_files(out))
    assert 1 <= written < 3, "the kill came too late to test resuming"
    err = finish(driver(config, out, compile_cache, "--scheduler", cluster.address))
    assert f"{18 - 6 * written} runs in {3 - written} batches" in err
    assert f"({6 * written} already done" in err
    assert_same_rows(out, reference)
    assert not [p for p in out.iterdir() if p.name.startswith(store.TEMP_PREFIX)]


def test_second_driver_on_the_same_folder_is_refused(cluster, slow, compile_cache, tmp_path):
    config, reference, _ = slow
    out = tmp_path / "out"
    first = driver(config, out, compile_cache, "--scheduler", cluster.address)
    try:
        wait_until(lambda: (out / "sweep.toml").exists() or first.poll() is not None,
                   "the first driver to take the folder", poll=0.01)
        assert first.poll() is None, "the first driver ended before the second started"
        sweep = parse_text(SLOW)
        executor = DaskExecutor(cluster.client)
        with pytest.raises(SweepDirError, match=f"in use by another sweep driver \\(pid "
                                                f"{first.pid} on "):
            prepare_out(out, sweep, SLOW)
        with pytest.raises(SweepDirError, match="in use by another sweep driver"):
            run_sweep(sweep, out, executor=executor)
        assert first.poll() is None, "the first driver ended while the second tried"
        finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert_same_rows(out, reference)  # every run once
    assert run_sweep(sweep, out, executor=executor).ran == 0  # free again once it ended


def test_failed_batches_are_reported_and_a_rerun_resumes(cluster, base, tmp_path):
    """Every task fails on the workers (a compilation cache folder they cannot create): the
    driver reports the batches, writes nothing, and a second run computes them."""
    config, reference, _ = base
    sweep = parse_text(BASE)
    out = tmp_path / "out"
    prepare_out(out, sweep, BASE)
    broken = DaskExecutor(cluster.client, compile_cache="/proc/sgdsde-cache")
    with pytest.raises(ClusterError, match="3 batch\\(es\\) failed .* run again to resume: "
                                           ".*(OSError|FileNotFoundError|PermissionError)"):
        run_sweep(sweep, out, executor=broken)
    assert not store.part_files(out)
    assert run_sweep(sweep, out, executor=DaskExecutor(cluster.client)).ran == 18
    assert_same_rows(out, reference)


def test_tasks_no_worker_can_take_end_the_sweep(cluster, tmp_path):
    """Tasks asking for a resource no worker offers would wait forever: the driver gives up
    after worker_wait seconds, naming the resource."""
    sweep = parse_text(BASE)
    prepare_out(tmp_path, sweep, BASE)
    executor = DaskExecutor(cluster.client, resources={"GPU": 1}, worker_wait=0.5)
    with pytest.raises(ClusterError, match="no worker offering GPU=1 has been connected"):
        run_sweep(sweep, tmp_path, executor=executor)
    assert not store.part_files(tmp_path)


def test_local_workers_listen_on_loopback_and_give_the_same_rows(base, compile_cache,
                                                                  tmp_path):
    config, reference, _ = base
    process = driver(config, tmp_path / "out", compile_cache, "--local-workers", "2")
    sockets, children = set(), set()
    try:
        while process.poll() is None:
            sockets |= listening([process.pid])
            try:
                children |= {c.pid for c in psutil.Process(process.pid).children(True)}
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.1)
        err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "18 runs in 3 batches on the Dask cluster at tcp://127.0.0.1:" in err
    assert sockets and {address for address, _ in sockets} == {LOOPBACK}
    assert_same_rows(tmp_path / "out", reference)
    psutil.wait_procs([psutil.Process(pid) for pid in children if psutil.pid_exists(pid)],
                      timeout=30)
    assert not [pid for pid in children if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_second_process_reuses_the_compiled_kernels(slow, base, tmp_path):
    """SLOW ran first in a fresh cache and compiled everything; BASE, in the next process,
    reused every kernel; the same sweep without the cache gives the same rows."""
    assert "0 kernels reused," in slow[2] and " 0 compiled" not in slow[2]
    assert "kernels reused, 0 compiled" in base[2]
    off = finish(driver(base[0], tmp_path / "out", None))
    assert "compilation cache" not in off
    assert_same_rows(tmp_path / "out", base[1])


# ------------------------------------------------------------------------ bad input


runner = CliRunner()


def invoke(tmp_path: Path, *extra: str):
    config = tmp_path / "base.toml"
    config.write_text(BASE)
    return runner.invoke(app, sweep_args(config, tmp_path / "out", None, *extra))


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    start = time.monotonic()
    result = invoke(tmp_path, "--scheduler", "tcp://127.0.0.1:1")
    assert_one_line_error(result, ["scheduler", "tcp://127.0.0.1:1"])
    assert time.monotonic() - start < 20
    assert not (tmp_path / "out").exists()


def test_missing_resources_are_named_and_nothing_is_written(cluster, tmp_path):
    result = invoke(tmp_path, "--scheduler", cluster.address, "--resources", "GPU=1")
    assert_one_line_error(result, ["GPU=1", "--resources", cluster.address])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("extra", "names"), [
    (["--local-workers", "0"], ["local_workers"]),
    (["--local-workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
     ["scheduler", "local_workers"]),
    (["--resources", "GPU=1"], ["--resources", "--scheduler", "--local-workers"]),
    (["--local-workers", "2", "--resources", "GPU"], ["--resources", "NAME=AMOUNT"]),
    (["--local-workers", "2", "--resources", "GPU=0"], ["resources['GPU']"]),
])
def test_bad_cluster_options_fail_cleanly(tmp_path, extra, names):
    result = invoke(tmp_path, *extra)
    assert_one_line_error(result, names)
    assert not (tmp_path / "out").exists()


def test_in_process_concurrency_is_checked():
    with pytest.raises(ParameterRangeError, match="concurrency=0"):
        InProcessExecutor(concurrency=0)


def test_both_cache_options_refused(tmp_path):
    result = runner.invoke(app, ["--compile-cache", str(tmp_path), "--no-compile-cache",
                                 "sweep", "x.toml", "--out", str(tmp_path / "out")])
    assert_one_line_error(result, ["--compile-cache", "--no-compile-cache"])
