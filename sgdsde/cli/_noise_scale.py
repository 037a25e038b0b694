"""``sgdsde noise-scale``: the gradient noise scale B_simple and B_noise of a classifier along SGD
training, exact and by the two-batch estimator (docs/theory.md §8, docs/toolkit.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from .._io import json_dumps, json_safe
from .._validation import check_choice, check_int
from ..config import RunConfig, checkpoint_steps
from ..learning import MODEL_NAMES
from ..surfaces import learned_surface
from ._common import (
    CONVENTIONS,
    NOISE_DATASETS,
    Float64Flag,
    JsonFlag,
    app,
    enable_float64,
    fmt,
    format_pm,
    load_classifier_data,
    prepare_writable,
    stderr,
    stdout,
    user_errors,
)


@app.command("noise-scale", epilog=CONVENTIONS)
def noise_scale(
    dataset: Annotated[str, typer.Option(
        help=f"Data set: {', '.join(NOISE_DATASETS)}.")] = "mnist1d",
    n_train: Annotated[int, typer.Option(help="Training-set size N.")] = 500,
    n_test: Annotated[int | None, typer.Option(
        help="Test-set size (default 1000, or the whole test split when smaller).")] = None,
    model: Annotated[str, typer.Option(help="Classifier: mlp or logistic.")] = "mlp",
    width: Annotated[int, typer.Option(help="Hidden width of the MLP.")] = 16,
    l2: Annotated[float, typer.Option(help="L2 coefficient λ >= 0 (part of L and H).")] = 0.0,
    lr: Annotated[float, typer.Option(help="Learning rate ε > 0 of the training run.")] = 0.1,
    momentum: Annotated[float, typer.Option(help="Heavy-ball momentum m in [0, 1).")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Batch size B of the training run.")] = 16,
    steps: Annotated[int, typer.Option(help="SGD updates of the training run.")] = 300,
    checkpoints: Annotated[int, typer.Option(
        help="Evenly spaced points of the run (step 0 included, >= 2) where the noise scale "
        "is measured.")] = 4,
    paths: Annotated[int, typer.Option(help="Independent training runs.")] = 1,
    small_batch: Annotated[int, typer.Option(
        help="b of the two-batch estimator, 1 <= b < B'.")] = 8,
    large_batch: Annotated[int, typer.Option(help="B' of the two-batch estimator.")] = 128,
    pairs: Annotated[int, typer.Option(
        help="Independent pairs of minibatches (with replacement) per estimate, >= 2.")] = 256,
    exact: Annotated[bool, typer.Option(
        "--exact/--no-exact", help="Also compute the exact B_simple and B_noise from "
        "per-example gradients and Hessian-vector products (min(N, d) of them).")] = True,
    seed: Annotated[int, typer.Option(
        help="Seed of the data subset, the initialisation and the minibatches.")] = 0,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
    figure: Annotated[Path, typer.Option(
        help="PNG of B_simple (exact and estimated) and B_noise against SGD steps.")
    ] = Path("results/noise-scale/noise_scale.png"),
) -> None:
    """Gradient noise scale B_simple and B_noise along SGD, exact and two-batch estimate.

    B_simple = tr C/|G|² and B_noise = tr(HC)/(GᵀHG) (McCandlish et al. 2018) along an SGD
    run: exact (C from per-example gradients, population 1/N; H the Hessian of the mean
    training loss) and by the unbiased two-batch estimator from minibatch gradient norms only,
    E|ĝ_b|² = |G|² + f_b·tr C, with standard errors over the pairs.
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import noise_scale_figure, save_figure
    from ..studies import check_batch_pair, noise_scale_along_training
    with user_errors():
        check_choice("dataset", dataset, NOISE_DATASETS)
        check_choice("model", model, MODEL_NAMES)
        check_int("width", width)
        run = RunConfig(lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
                        steps=steps, paths=paths, seed=seed)
        save = checkpoint_steps(steps, checkpoints)
        check_batch_pair(small_batch, large_batch, n_train, True)
        check_int("pairs", pairs, 2)
        prepare_writable("--figure", figure, folder=False)
        dtype = enable_float64(float64)
        with stderr.status(f"loading {dataset}..."):
            data = load_classifier_data(dataset, n_train, n_test, None, False, seed, None)
        surface = learned_surface(data, model, width=width, l2=l2, seed=seed, dtype=dtype)
        start = time.perf_counter()
        with stderr.status(f"training and measuring at {len(save)} points (compiling "
                           "first)..."):
            record = noise_scale_along_training(
                surface, run, save_steps=save, small_batch=small_batch,
                large_batch=large_batch, pairs=pairs, exact=exact)
        elapsed = time.perf_counter() - start
    record = {"dataset": data.describe(), "model": model, "dim": surface.dim,
              "width": width if model == "mlp" else None, "l2": l2, **record,
              "wall_seconds": elapsed, "figure": str(figure)}
    save_figure(noise_scale_figure(record), figure)
    if as_json:
        typer.echo(json_dumps(record))
        return
    stdout.print(_table(json_safe(record)))
    typer.echo(f"figure: {figure}")
    stderr.print(f"[dim]{elapsed:.1f} s[/dim]")


def _table(r: dict[str, Any]) -> Table:
    """One row per (path, checkpoint): the estimates ± se and, when computed, the exact values."""
    exact = "exact" in r
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False,
        title=f"Gradient noise scale on {r['dataset']['name']}, {r['model']} (d={r['dim']}), "
        f"N={r['n_train']}: SGD ε={r['lr']}, m={r['momentum']}, B={r['batch_size']}",
        caption=f"estimate: {r['pairs']} pairs of minibatches b={r['small_batch']}, "
        f"B'={r['large_batch']} (± standard error). B_noise needs H: exact only.",
    )
    columns = ["path", "step", "train loss", "B_simple est.", "tr C est.", "|G|² est."]
    if exact:
        columns[3:3] = ["B_simple", "B_noise"]
        columns += ["tr C", "|G|²"]
    for name in columns:
        table.add_column(name, justify="right")
    for path, estimates in enumerate(r["estimate"]):
        for index, step in enumerate(r["steps"]):
            est = estimates[index]
            row = [str(path), str(step), fmt(r["train_loss"][path][index]),
                   format_pm(est["b_simple"]["value"], est["b_simple"]["stderr"]),
                   format_pm(est["trace_cov"]["value"], est["trace_cov"]["stderr"]),
                   format_pm(est["grad_sq_norm"]["value"], est["grad_sq_norm"]["stderr"])]
            if exact:
                values = r["exact"][path][index]
                row[3:3] = [fmt(values["b_simple"]), fmt(values["b_noise"])]
                row += [fmt(values["trace_cov"]), fmt(values["grad_sq_norm"])]
            table.add_row(*row)
    return table
