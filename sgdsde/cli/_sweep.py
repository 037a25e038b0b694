"""``sgdsde sweep CONFIG --out DIR``: a resumable grid of SGD runs on a learned surface, in this
process or on a Dask cluster (``--scheduler tcp://HOST:PORT`` or ``--local-workers K``).

The config and the options are validated, and the cluster reached and checked, before any
data is loaded, anything compiled or anything written (a mistake is one line ``error: ...`` on
stderr, exit code 2); progress goes to stderr; results are a Parquet dataset under DIR
(:data:`sgdsde.scaling.store`), one file per finished batch, written by this process only.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..cache import compile_cache_counts, compile_cache_dir
from ..scaling import dask_executor, expand, load_config, prepare_out, run_sweep, sweep_lock
from ._common import CONVENTIONS, OptionError, app, parse_list, stderr, user_errors


def parse_resources(text: str) -> dict[str, float]:
    """``--resources GPU=1,MEM=4e9`` as ``{"GPU": 1.0, "MEM": 4e9}``."""
    resources = {}
    for entry in parse_list("--resources", text, str, "GPU=1"):
        name, _, amount = entry.partition("=")
        try:
            resources[name.strip()] = float(amount)
        except ValueError:
            raise OptionError(f"--resources={text!r}: {entry!r} is not NAME=AMOUNT "
                              "(e.g. GPU=1)") from None
        if not name.strip():
            raise OptionError(f"--resources={text!r}: {entry!r} has no resource name")
    return resources


def _executor(scheduler: str | None, local_workers: int | None,
              resources: str | None) -> contextlib.AbstractContextManager[Any]:
    """The Dask executor the options ask for (entered: connected and checked), or None (in
    this process)."""
    if scheduler is None and local_workers is None:
        if resources is not None:
            raise OptionError("--resources needs --scheduler or --local-workers")
        return contextlib.nullcontext(None)
    folder = compile_cache_dir()
    return dask_executor(
        scheduler=scheduler, local_workers=local_workers,
        resources=None if resources is None else parse_resources(resources),
        compile_cache=None if folder is None else str(folder))


@app.command(epilog=CONVENTIONS)
def sweep(
    config: Annotated[Path, typer.Argument(
        help="Sweep file (TOML): [data], [model], [grid], [budget], [eval] and optionally "
        "[optimizer] (rmsprop or adam); see docs/scaling.md and "
        "experiments/sweeps/small.toml.")],
    out: Annotated[Path, typer.Option(
        help="Results folder: sweep.toml (the config) and part-*.parquet (one file per "
        "finished batch of runs), written by this process only.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Run this config even if --out holds a different sweep (its "
        "finished rows are kept).")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (tcp://HOST:PORT): each batch runs as one "
        "task on its workers (same rows as in this process); see docs/distributed.md.")
    ] = None,
    local_workers: Annotated[int | None, typer.Option(
        help="Start a Dask cluster of this many worker processes on this machine "
        "(listening on 127.0.0.1 only) and run the batches there.")] = None,
    resources: Annotated[str | None, typer.Option(
        help="Dask worker resources every task needs, e.g. GPU=1: only workers started "
        "with them (dask worker ... --resources GPU=1) take the tasks.")] = None,
) -> None:
    """Run every (ε, B, m, N, seed) of a grid for a fixed budget and record final and best
    test accuracy, losses, divergence and the noise scale g = ε(N/B − 1)/(1 − m) (NaN for
    RMSprop and Adam), one row per run. Runs sharing shapes and update counts are vmapped in
    one compiled call (sharded over every device when there are several), in this process or
    as Dask tasks. Interrupted sweeps resume: re-running the same command skips finished runs;
    a second command on the same --out is refused while the first runs."""
    with user_errors():
        cfg, text = load_config(config)
        total = len(expand(cfg))
        with _executor(scheduler, local_workers, resources) as executor, sweep_lock(out):
            prepare_out(out, cfg, text, force=force)
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
                          TextColumn("ETA"), TimeRemainingColumn(), console=stderr,
                          transient=False) as progress:
                task = progress.add_task("sweep", total=total)

                def on_progress(done: int, total: int, message: str) -> None:
                    progress.update(task, completed=done, total=total,
                                    description=message or "sweep")

                summary = run_sweep(cfg, out, on_progress=on_progress, executor=executor)
            where = "" if executor is None else f" on the Dask cluster at {executor.address}"
    stderr.print(
        f"{summary.ran} runs in {summary.batches} batches{where} ({summary.skipped} already "
        f"done, {summary.diverged} diverged) in {summary.wall_seconds:.1f} s")
    folder, counts = compile_cache_dir(), compile_cache_counts()
    if folder is not None and executor is None:
        stderr.print(f"compilation cache {folder}: {counts.hits} kernels reused, "
                     f"{counts.misses} compiled")
    typer.echo(f"results: {out}")
