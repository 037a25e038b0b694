"""``sgdsde scaling DIR``: B_opt per (ε, N, m) slice of a finished sweep, log–log fits of B_opt
against ε, N and 1/(1−m) with bootstrap intervals (theory: slope 1), and the collapse of test
accuracy in the noise scale g (docs/theory.md §4).

All computation is in :mod:`sgdsde.scaling`, all drawing in :mod:`sgdsde.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .._io import json_dumps
from ..plots import save_figure, scaling_figures
from ..scaling import analyse_sweep, as_columns, read_results
from ._common import CONVENTIONS, OptionError, app, stderr, stdout, user_errors


@app.command(epilog=CONVENTIONS)
def scaling(
    results: Annotated[Path, typer.Argument(help="A sweep's --out folder (part-*.parquet).")],
    metric: Annotated[str, typer.Option(
        help="Column whose optimum over B defines B_opt.")] = "final_test_accuracy",
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates over seeds.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    figure_dir: Annotated[Path | None, typer.Option(
        help="Where the figures go (default: RESULTS/figures).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object (B_opt per slice, fits, collapse) on stdout.")]
    = False,
) -> None:
    """Locate B_opt for every (ε, N, m) slice (a smooth quadratic-in-log-B estimate with a
    bootstrap interval over seeds; diverged runs excluded and counted), fit log B_opt against
    log ε, log N and log 1/(1−m) wherever the sweep varies them (95% bootstrap interval beside
    the predicted slope 1), and score how well test accuracy collapses onto one curve in g."""
    with user_errors():
        if n_boot < 10:
            raise OptionError(f"--n-boot={n_boot} is out of range: --n-boot must be >= 10")
        if not results.is_dir():
            raise OptionError(f"RESULTS={results} is not a folder of sweep results")
        table = read_results(results)
        if table.num_rows == 0:
            raise OptionError(f"RESULTS={results} holds no finished runs")
        if metric not in as_columns(table):
            raise OptionError(f"--metric={metric!r} is not a column of the results")
        analysis = analyse_sweep(table, metric, n_boot=n_boot, seed=seed)
    folder = figure_dir or results / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    saved = [save_figure(figure, folder / f"{stem}.png")
             for stem, figure in scaling_figures(analysis).items()]
    record: dict[str, Any] = {**analysis.to_dict(), "figures": [str(path) for path in saved]}
    if json_output:
        typer.echo(json_dumps(record))
        return
    stdout.print(_b_opt_table(record["b_opt"]))
    for name, fit in record["fits"].items():
        held = "contains" if fit["theory_in_interval"] else "EXCLUDES"
        stdout.print(
            f"log B_opt vs log {name}: slope {fit['slope']:.2f}, 95% interval "
            f"[{fit['ci_low']:.2f}, {fit['ci_high']:.2f}] over {fit['n_slices']} slices; "
            f"{held} the predicted slope 1"
        )
    for name, error in record["fit_errors"].items():
        stdout.print(f"log B_opt vs log {name}: no fit ({error})")
    scores = [record[key].get("score") for key in ("collapse", "collapse_in_b")]
    in_g, in_b = (f"{x:.3g}" if x is not None else "n/a" for x in scores)
    stdout.print(f"collapse in g (one curve per {record['collapse']['by']}): score {in_g} "
                 f"(≈1 = collapsed; against B instead of g: {in_b})")
    stderr.print("figures: " + ", ".join(record["figures"]))


def _b_opt_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="B_opt per slice (bootstrap 95% interval over seeds)")
    for name in ("ε", "N", "m", "B_opt", "interval", "edge", "diverged"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            f"{row['lr']:g}", str(row["n_train"]), f"{row['momentum']:g}",
            f"{row['b_opt']:.3g}", f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}]",
            str(row["edge"] or ""), str(row["n_diverged"]),
        )
    return table
