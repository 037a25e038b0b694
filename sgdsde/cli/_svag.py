"""``sgdsde svag``: the SVAG validity test (Li, Malladi & Arora 2021) — does an SDE describe
SGD at this learning rate? — beside SGD against its SME (docs/theory.md §8, docs/toolkit.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from .._io import json_dumps, json_safe
from .._validation import check_choice, check_int
from ..learning import MODEL_NAMES
from ..surfaces import learned_surface
from ._common import (
    CONVENTIONS,
    NOISE_DATASETS,
    Float64Flag,
    JsonFlag,
    app,
    enable_float64,
    format_pm,
    load_classifier_data,
    parse_list,
    prepare_writable,
    stderr,
    stdout,
    user_errors,
)


def _whole(values: list[float]) -> list[float | int]:
    """Integral floats as ints (so ``--ells 1,2.0`` means ℓ = 1, 2; 1.5 stays and is refused)."""
    return [int(v) if float(v).is_integer() else v for v in values]


@app.command(epilog=CONVENTIONS)
def svag(
    dataset: Annotated[str, typer.Option(
        help=f"Data set: {', '.join(NOISE_DATASETS)}.")] = "mnist1d",
    n_train: Annotated[int, typer.Option(help="Training-set size N.")] = 1000,
    n_test: Annotated[int | None, typer.Option(
        help="Test-set size (default 1000, or the whole test split when smaller).")] = None,
    model: Annotated[str, typer.Option(help="Classifier: mlp or logistic.")] = "mlp",
    width: Annotated[int, typer.Option(help="Hidden width of the MLP.")] = 32,
    lrs: Annotated[str, typer.Option(help="Comma list of learning rates ε > 0.")
                   ] = "0.05,0.3,1.0",
    ells: Annotated[str, typer.Option(
        help="Comma list of integers ℓ >= 1 (ℓ = 1 is SGD; SVAG runs ε/ℓ for ℓ× the updates)."
    )] = "1,2,4,8",
    batch_size: Annotated[int, typer.Option(help="Batch size B, 1 <= B <= N.")] = 100,
    sde_time: Annotated[float, typer.Option(
        help="SDE time T of every run (⌈T/ε⌉ updates at ℓ = 1).")] = 10.0,
    paths: Annotated[int, typer.Option(help="Paths per ensemble (>= 2).")] = 8,
    sde_dt: Annotated[float, typer.Option(
        help="Largest step of the SME beside them (Euler–Maruyama, exact noise).")] = 0.05,
    sde: Annotated[bool, typer.Option(
        "--sde/--no-sde", help="Also integrate the first-order SME at each ε.")] = True,
    shuffled: Annotated[bool, typer.Option(
        "--shuffled", help="Shuffled epochs instead of sampling with replacement (each of "
        "SVAG's two samplers keeps its own epochs).")] = False,
    checkpoints: Annotated[int, typer.Option(help="Checkpoints per run (>= 2).")] = 5,
    seed: Annotated[int, typer.Option(
        help="Seed of the data subset, the initialisation and the ensembles.")] = 0,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
    figure: Annotated[Path, typer.Option(
        help="PNG of the final test accuracy against ℓ, one panel per ε.")
    ] = Path("results/svag/svag.png"),
) -> None:
    """SVAG validity test: does an SDE describe SGD at these learning rates?

    SVAG (Li, Malladi & Arora 2021): ĝ = ((1+√(2ℓ−1))/2)ĝ₁ + ((1−√(2ℓ−1))/2)ĝ₂ from two
    independent minibatches has mean ∇L and covariance ℓ·Σ_B; run at ε/ℓ for ℓ× the updates it
    has SGD's SDE and converges to it as ℓ grows. Where ℓ = 1 (SGD) and large ℓ agree the SDE
    describes SGD; where they separate it does not.
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import save_figure, svag_figure
    from ..scaling import check_lrs
    from ..studies import check_ells, svag_study
    with user_errors():
        check_choice("dataset", dataset, NOISE_DATASETS)
        check_choice("model", model, MODEL_NAMES)
        check_int("width", width)
        grid = check_lrs(parse_list("--lrs", lrs, float, "0.05,1.0"))
        ladder = check_ells(_whole(parse_list("--ells", ells, float, "1,2,4")))
        check_int("batch_size", batch_size, maximum=n_train)
        check_int("checkpoints", checkpoints, 2)
        prepare_writable("--figure", figure, folder=False)
        dtype = enable_float64(float64)
        with stderr.status(f"loading {dataset}..."):
            data = load_classifier_data(dataset, n_train, n_test, None, False, seed, None)
        surface = learned_surface(data, model, width=width, seed=seed, dtype=dtype)
        start = time.perf_counter()
        with stderr.status(f"SVAG at {len(grid)} ε × {len(ladder)} ℓ (compiling first)..."):
            record = svag_study(surface, grid, ladder, batch_size=batch_size,
                                sde_time=sde_time, paths=paths, replacement=not shuffled,
                                checkpoints=checkpoints, sde_dt=sde_dt if sde else None,
                                seed=seed)
        elapsed = time.perf_counter() - start
    record = {"dataset": data.describe(), "model": model, "dim": surface.dim,
              "width": width if model == "mlp" else None, **record, "wall_seconds": elapsed,
              "figure": str(figure)}
    save_figure(svag_figure(record), figure)
    if as_json:
        typer.echo(json_dumps(record))
        return
    safe = json_safe(record)
    for metric in ("train_loss", "test_accuracy"):
        stdout.print(_table(safe, metric))
    typer.echo(f"figure: {figure}")
    stderr.print(f"[dim]{elapsed:.1f} s[/dim]")


def _table(r: dict[str, Any], metric: str) -> Table:
    """Final `metric` (one of METRICS) per ε and ℓ, the SME and the gap ℓ=1 − largest ℓ."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  title=f"SVAG on {r['dataset']['name']}, {r['model']} (d={r['dim']}), "
                  f"N={r['n_train']}, B={r['batch_size']}, T={r['sde_time']:g}: final "
                  f"{metric.replace('_', ' ')} ± se",
                  caption=f"{r['paths']} paths per ensemble; gap = ℓ=1 − ℓ={r['ells'][-1]}: "
                  "where it is resolved the SDE does not describe SGD at that ε.")
    columns = ["ε", *(f"ℓ={e}" for e in r["ells"]), "SME", "gap"]
    for name in columns:
        table.add_column(name, justify="right")
    for row in r["rows"]:
        cells = [format_pm(row["svag"][str(e)][metric]["mean"][-1],
                           row["svag"][str(e)][metric]["stderr"][-1]) for e in r["ells"]]
        sde = row["sde"]
        cells.append("—" if sde is None else format_pm(sde[metric]["mean"][-1],
                                                       sde[metric]["stderr"][-1]))
        gap = row["final_gaps"][metric]["svag"]
        cells.append(format_pm(gap["mean"], gap["stderr"]))
        table.add_row(f"{row['lr']:g}", *cells)
    return table
