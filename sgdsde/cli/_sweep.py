"""``sgdsde sweep CONFIG --out DIR``: a resumable grid of SGD runs on a learned surface.

The config is validated before any data is loaded or anything compiled (a mistake is one line
``error: ...`` on stderr, exit code 2); progress goes to stderr; results are a Parquet
dataset under DIR (:data:`sgdsde.scaling.store`), one file per finished batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..scaling import expand, load_config, prepare_out, run_sweep
from ._common import CONVENTIONS, app, stderr, user_errors


@app.command(epilog=CONVENTIONS)
def sweep(
    config: Annotated[Path, typer.Argument(
        help="Sweep file (TOML): [data], [model], [grid], [budget], [eval]; see "
        "docs/scaling.md and experiments/sweeps/small.toml.")],
    out: Annotated[Path, typer.Option(
        help="Results folder: sweep.toml (the config) and part-*.parquet (one file per "
        "finished batch of runs).")],
    force: Annotated[bool, typer.Option(
        "--force", help="Run this config even if --out holds a different sweep (its "
        "finished rows are kept).")] = False,
) -> None:
    """Run every (ε, B, m, N, seed) of a grid for a fixed budget and record final and best
    test accuracy, losses, divergence and the noise scale g = ε(N/B − 1)/(1 − m), one row per
    run. Runs sharing shapes and update counts are vmapped in one compiled call (sharded over
    every device when there are several). Interrupted sweeps resume: re-running the same
    command skips finished runs."""
    with user_errors():
        cfg, text = load_config(config)
        total = len(expand(cfg))
        prepare_out(out, cfg, text, force=force)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
                      TextColumn("ETA"), TimeRemainingColumn(), console=stderr,
                      transient=False) as progress:
            task = progress.add_task("sweep", total=total)

            def on_progress(done: int, total: int, message: str) -> None:
                progress.update(task, completed=done, total=total,
                                description=message or "sweep")

            summary = run_sweep(cfg, out, on_progress=on_progress)
    stderr.print(
        f"{summary.ran} runs in {summary.batches} batches ({summary.skipped} already done, "
        f"{summary.diverged} diverged) in {summary.wall_seconds:.1f} s")
    typer.echo(f"results: {out}")
