"""``sgdsde scaling DIR``: B_opt per (ε, N, m) slice of a finished sweep with calibrated
intervals, one g_opt and the goodness of fit of B_opt = εN/(ε + g_opt(1 − m)), log–log fits of
B_opt against ε, N and 1/(1−m) beside their predicted slopes, and the collapse of test accuracy
in the noise scale g tested as an equivalence (docs/theory.md §4, §7).

All computation is in :mod:`sgdsde.scaling`, all drawing in :mod:`sgdsde.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .._io import json_dumps
from ._common import CONVENTIONS, OptionError, app, stderr, stdout, user_errors


@app.command(epilog=CONVENTIONS)
def scaling(
    results: Annotated[Path, typer.Argument(help="A sweep's --out folder (part-*.parquet).")],
    metric: Annotated[str, typer.Option(
        help="Column whose optimum over B defines B_opt.")] = "final_test_accuracy",
    n_boot: Annotated[int, typer.Option(
        help="Monte Carlo replicates: synthetic sweeps for the goodness of fit and the measured "
        "coverage, label permutations for the collapse score (>= 10).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo.")] = 0,
    figure_dir: Annotated[Path | None, typer.Option(
        help="Where the figures go (default: RESULTS/figures).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object (B_opt per slice, g_opt with its goodness of "
        "fit, the fits with slope, ci_low, ci_high and predicted_slope, both collapses, the "
        "measured coverage) on stdout.")]
    = False,
) -> None:
    """Locate B_opt for every (ε, N, m) slice (a quadratic-in-log-B estimate with a jackknife
    Student-t interval over seeds; diverged runs excluded and counted; a slice whose optimum is
    at the grid's edge, not concave or short of data is reported and left out), fit one
    g_opt and test B_opt = εN/(ε + g_opt(1 − m)) slice by slice (Monte Carlo goodness of fit),
    fit log B_opt against log ε, log N and log 1/(1−m) wherever the sweep varies them beside
    the predicted slopes, test the collapse of the metric in g as an equivalence, and measure
    the intervals' coverage by simulation from the sweep's own noise."""
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import save_figure, scaling_figures
    from ..scaling import analyse_sweep, as_columns, read_results
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
        analysis = analyse_sweep(table, metric, replicates=n_boot, seed=seed)
    folder = figure_dir or results / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    saved = [save_figure(figure, folder / f"{stem}.png")
             for stem, figure in scaling_figures(analysis).items()]
    record: dict[str, Any] = {**analysis.to_dict(), "figures": [str(path) for path in saved]}
    if json_output:
        typer.echo(json_dumps(record))
        return
    stdout.print(_b_opt_table(record["b_opt"]))
    for line in summary_lines(record):
        stdout.print(line)
    stderr.print("figures: " + ", ".join(record["figures"]))


def summary_lines(record: dict[str, Any]) -> list[str]:
    """The analysis in a few lines: g_opt and its goodness of fit, each law against its
    prediction, the collapse and the measured coverage."""
    lines = []
    g = record["g_opt"]
    if g is not None:
        lines.append(f"g_opt = {g['g_opt']:.3g} [{g['ci_low']:.3g}, {g['ci_high']:.3g}] over "
                     f"{len(g['slices'])} slices; B_opt = εN/(ε + g_opt(1−m)) goodness of fit "
                     f"p = {g['p_value']:.2g} (Monte Carlo, {g['replicates']} sweeps)")
    for name, fit in record["fits"].items():
        held = "contains" if fit["predicted_in_interval"] else "EXCLUDES"
        lines.append(f"log B_opt vs log {name}: slope {fit['slope']:.3f}, "
                     f"{fit['confidence']:.0%} interval [{fit['ci_low']:.3f}, "
                     f"{fit['ci_high']:.3f}] over {fit['n_slices']} slices; {held} the "
                     f"predicted slope {fit['predicted_slope']:.3f}")
    for name, error in record["errors"].items():
        lines.append(f"{name}: not fitted ({error})")
    for key, axis in (("collapse", "g"), ("collapse_in_b", "B")):
        c = record[key]
        if c["spread"] is None:
            lines.append(f"collapse in {axis}: fewer than two overlapping curves")
            continue
        verdict = ("collapsed" if c["collapsed"] else "separated" if c["separated"]
                   else "undecided")
        lines.append(f"collapse in {axis} (one curve per {c['by']}): spread {c['spread']:.3g} "
                     f"[{c['spread_low']:.3g}, {c['spread_high']:.3g}] vs margin "
                     f"{c['margin']:.3g}: {verdict}; score {c['score']:.3g} (permutation null "
                     f"{c['permutation_mean']:.3g})")
    coverage = record["coverage"]
    if coverage is not None:
        rates = ", ".join(f"{k} {v['rate']:.1%} ± {v['stderr']:.1%}"
                          for k, v in coverage["rates"].items())
        lines.append(f"measured coverage of the {coverage['nominal']:.0%} intervals at "
                     f"{coverage['n_seeds']} seeds: {rates}")
    return lines


def _b_opt_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="B_opt per slice (jackknife Student-t interval over seeds)")
    for name in ("ε", "N", "m", "B_opt", "interval", "status", "diverged"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            f"{row['lr']:g}", str(row["n_train"]), f"{row['momentum']:g}",
            f"{row['b_opt']:.3g}", f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}]",
            str(row["status"]), str(row["n_diverged"]),
        )
    return table
