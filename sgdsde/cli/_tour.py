"""``sgdsde tour``: every claim of the package on built-in defaults, one report.

The tour itself is library code (:func:`sgdsde.tour.run_tour`, :meth:`sgdsde.tour.Tour.save`);
this command adds the progress display and the summary table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..tour import PARTS
from ._common import CONVENTIONS, app, enable_float64, stderr, stdout, user_errors


@app.command(epilog=CONVENTIONS)
def tour(
    out: Annotated[Path, typer.Option(help="Directory for report.md, results.json, the "
                                      "figures and the sweep (created if missing).")]
    = Path("results/tour"),
    parts: Annotated[str, typer.Option(
        help=f"Comma list of the parts to run, in any order: {', '.join(PARTS)} (default: "
        "all).")] = ",".join(PARTS),
    quick: Annotated[bool, typer.Option(
        "--quick", help="Much smaller runs (loose error bars; for smoke tests).")] = False,
    seed: Annotated[int, typer.Option(
        help="Seed of every ensemble, data subset and bootstrap; the scaling sweep runs seeds "
        "ks … ks + k − 1 (k = 8, or 2 with --quick), so every tour seed is an independent "
        "sweep.")] = 0,
    float64: Annotated[bool, typer.Option(
        "--float64", help="Run the quadratic part in float64 (enables jax x64; the evidence "
        "part always uses float64).")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with code 1 when a claim did not hold.")] = False,
) -> None:
    """The tour a newcomer should see, on built-in defaults (about 6–8 minutes on a 2-core
    CPU; --quick: about 2).

    (1) quadratic: SGD (m=0) and the first-order SME on a 3-D quadratic with noise not aligned
    with the curvature against the discrete and continuous Lyapunov solutions, heavy ball
    against the underdamped SDE, the stationary gap over a decade of ε (predicted ∝ ε) and the
    weak error of the first- and second-order SMEs on a double well; (2) learned: SGD against
    the SME on MNIST-1D, agreement at small ε and breakdown at large ε; (3) scaling: a small
    batch-size sweep (resumed if interrupted), B_opt against ε, the collapse of test accuracy
    in g, and decay ε ≡ grow B; (4) evidence: Laplace evidence for random and informative
    labels, and the curvature of SGD end points against g; (5) adaptive: batch-size rules on
    MNIST-1D, the square-root rule for Adam and RMSprop, the linear rule for SGD; (6) toolkit:
    the gradient noise scale (exact against the two-batch estimate), the noisy quadratic model
    (SGD against its exact expected loss, momentum raising the critical batch size) and the
    SVAG validity test. Writes one report (report.md with the figures), results.json and the
    PNGs into --out and prints the report's path.
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..tour import check_parts, run_tour
    with user_errors():
        chosen = check_parts([p.strip() for p in parts.split(",") if p.strip()])
        enable_float64(float64)
        out.mkdir(parents=True, exist_ok=True)
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=stderr, transient=False) as progress:
            task = progress.add_task("starting", total=len(chosen))
            sweep_task = None

            def on_part(key: str, index: int, total: int) -> None:
                progress.update(task, description=key, completed=index)

            def on_step(key: str, text: str) -> None:
                progress.update(task, description=f"{key}: {escape(text)}")

            def on_sweep(done: int, total: int, message: str) -> None:
                nonlocal sweep_task
                if sweep_task is None:
                    sweep_task = progress.add_task("sweep runs", total=total)
                progress.update(sweep_task, completed=done, total=total)

            result = run_tour(chosen, quick=quick, seed=seed, float64=float64, workdir=out,
                              on_part=on_part, on_step=on_step, on_sweep_progress=on_sweep)
            progress.update(task, description="done", completed=len(chosen))
        report_path = result.save(out)
    summary = Table(title=f"sgdsde tour ({result.wall_seconds:.0f} s)")
    for column in ("", "part", "claim", "measured"):
        summary.add_column(column)
    for key, claim in result.claims:
        summary.add_row("[green]held[/green]" if claim["held"] else "[red]FAILED[/red]", key,
                        escape(claim["statement"]), escape(claim["measured"]))
    stdout.print(summary)
    typer.echo(f"report: {report_path}")
    if strict and not result.all_held:
        raise typer.Exit(code=1)
