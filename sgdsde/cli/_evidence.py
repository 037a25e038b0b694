"""``sgdsde evidence``: the Laplace evidence of a classifier against the null model across
L2 strengths λ (docs/theory.md §5), with the same conventions as the other commands."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Any

import jax
import numpy as np
import typer
from rich import box
from rich.table import Table

from .._io import json_dumps
from .._validation import check_choice, check_int
from ..evidence import HESSIAN_METHODS, check_prior_precision, evidence_sweep
from ..learning import load_dataset
from ._common import (
    JsonFlag,
    OptionError,
    app,
    fmt,
    parse_list,
    prepare_writable,
    stderr,
    stdout,
    user_errors,
)

EVIDENCE_DATASETS = ("digits", "mnist1d")
LABELS = ("informative", "random")
MODELS = ("logistic", "mlp")
FIGURE_NAME = "evidence.png"
LAMBDAS_EXAMPLE = "a comma list of numbers > 0 or 'logspace:A:B:K' (e.g. logspace:-3:2:11)"


def parse_lambdas(text: str) -> list[float]:
    """λ grid from ``"0.01,0.1,1"`` or ``"logspace:A:B:K"`` (K values 10^A … 10^B); every λ
    must be > 0 (ParameterRangeError naming lambda)."""
    text = text.strip()
    if text.startswith("logspace:"):
        parts = text.split(":")[1:]
        try:
            if len(parts) != 3:
                raise ValueError
            low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise OptionError(f"--lambdas={text!r} is not {LAMBDAS_EXAMPLE}") from None
        if count < 1 or not (math.isfinite(low) and math.isfinite(high)):
            raise OptionError(f"--lambdas={text!r} must be logspace:A:B:K with finite A, B "
                              "and K >= 1")
        values = np.logspace(low, high, count).tolist()
    else:
        values = parse_list("--lambdas", text, float, "0.01,0.1,1")
    return [check_prior_precision(value) for value in values]


def _check(dataset: str, labels: str, model: str, hessian: str, n_train: int,
           n_test: int | None, width: int) -> None:
    for name, value, choices in (("dataset", dataset, EVIDENCE_DATASETS),
                                 ("labels", labels, LABELS), ("model", model, MODELS),
                                 ("hessian", hessian, HESSIAN_METHODS)):
        check_choice(name, value, choices)
    check_int("n_train", n_train, 2)
    check_int("n_test", n_test, optional=True)
    check_int("width", width)


@app.command()
def evidence(
    dataset: Annotated[str, typer.Option(
        help="Data set: digits (sklearn 8x8, 64 features) or mnist1d (40 features).")
    ] = "digits",
    classes: Annotated[str, typer.Option(
        help="Comma list of labels to keep, relabelled 0..k-1, each split class-balanced.")
    ] = "0,1",
    n_train: Annotated[int, typer.Option(
        help="Training-set size N (memorising random labels needs N ≈ number of parameters: "
        "65 for binary logistic regression on digits).")] = 64,
    n_test: Annotated[int | None, typer.Option(
        help="Test-set size (default: the whole test split for digits, 1000 for mnist1d).")
    ] = None,
    labels: Annotated[str, typer.Option(
        help="informative, or random (balanced random labels in train and test, drawn by "
        "--seed). One draw says little: at large λ the mean and the spread of the ratio over "
        "label draws both fall like 1/λ (sgdsde.evidence.random_label_study averages draws "
        "against the closed form).")
    ] = "informative",
    lambdas: Annotated[str, typer.Option(
        help="Prior precisions λ > 0: a comma list, or logspace:A:B:K for K values from "
        "10^A to 10^B.")] = "logspace:-3:2:11",
    model: Annotated[str, typer.Option(
        help="logistic (binary: one sigmoid logit for 2 classes) or mlp (one hidden ReLU "
        "layer of --width units; a local minimum).")] = "logistic",
    width: Annotated[int, typer.Option(help="Hidden width of the MLP.")] = 16,
    hessian: Annotated[str, typer.Option(
        help="exact (jax.hessian, d ≤ 2000) or lanczos (stochastic Lanczos quadrature: an "
        "ESTIMATE of the log-determinant, labelled as such).")] = "exact",
    seed: Annotated[int, typer.Option(
        help="Seed of the data subset, the random labels and the initialisation.")] = 0,
    as_json: JsonFlag = False,
    figure_dir: Annotated[Path, typer.Option(
        help=f"Folder for {FIGURE_NAME}: train/test accuracy, test cross-entropy and the log "
        "evidence ratio per example against λ (created if missing).")
    ] = Path("results/evidence"),
) -> None:
    """Laplace log evidence against the null model (predict 1/n) across L2 strengths λ.

    For each λ the classifier is trained to the minimum ω₀ of the SUMMED cost
    C(ω) = −Σ_i ln P(y_i|ω,x_i) + (λ/2)‖ω‖² (Newton, float64; gradient norm and a converged
    flag reported), and ln P(y|x) − ln P_null = −C(ω₀) − ½Σ_j ln(λ_j/λ) + N ln n, with λ_j the
    eigenvalues of ∇∇C(ω₀) (docs/theory.md §5).
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import evidence_figure, save_figure
    with user_errors():
        _check(dataset, labels, model, hessian, n_train, n_test, width)
        chosen = parse_list("--classes", classes, int, "0,1")
        grid = parse_lambdas(lambdas)
        prepare_writable("--figure-dir", figure_dir, folder=True)
        jax.config.update("jax_enable_x64", True)
        size = n_test if n_test is not None else (1000 if dataset == "mnist1d" else None)
        with stderr.status(f"loading {dataset}..."):
            data = load_dataset(dataset, n_train=n_train, n_test=size, classes=chosen,
                                random_labels=labels == "random", seed=seed)
        start = time.perf_counter()
        with stderr.status("minimising and computing the evidence (compiling first)...") as st:
            records = evidence_sweep(
                data, grid, model=model, width=width, hessian=hessian, seed=seed,
                on_point=lambda i, lam: st.update(f"λ={lam:.3g} ({i + 1}/{len(grid)})"))
        elapsed = time.perf_counter() - start

    figure = figure_dir / FIGURE_NAME
    record: dict[str, Any] = {
        "dataset": data.describe(), "labels": labels, "model": model,
        "width": width if model == "mlp" else None, "hessian": hessian,
        "dim": records[0]["dim"], "logdet_is_estimate": records[0]["logdet_is_estimate"],
        "all_converged": all(r["converged"] for r in records),
        "points": records, "wall_seconds": elapsed, "figure": str(figure),
    }
    save_figure(evidence_figure({f"{labels} labels, N={data.n_train}": records},
                                f"{dataset} {classes}: {model}, Laplace evidence"), figure)
    if as_json:
        typer.echo(json_dumps(record))
        return
    stdout.print(_table(record))
    if not record["all_converged"]:
        stderr.print("[bold red]warning:[/bold red] the minimiser did not converge at some λ "
                     "(converged = no): their evidence is not at a minimum")
    typer.echo(f"figure: {figure}")
    stderr.print(f"[dim]{elapsed:.1f} s[/dim]")


def _table(r: dict[str, Any]) -> Table:
    data = r["dataset"]
    estimate = " (log-det ESTIMATED by stochastic Lanczos)" if r["logdet_is_estimate"] else ""
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0),
        title=f"Laplace evidence on {data['name']} classes {data['classes']}, {r['labels']} "
        f"labels, {r['model']} (d={r['dim']}), N={data['n_train']}, n_test={data['n_test']}"
        f"{estimate}",
        caption="C = summed cost at the minimum; ln Occam = −½Σ ln(λ_j/λ); ratio = ln P(y|x) − "
        "ln P_null (nats; > 0 beats the null model); |∇C| = gradient norm at the minimum.",
    )
    columns = ("λ", "train acc", "test acc", "test CE", "C(ω₀)", "ln Occam", "ln ratio",
               "ratio / N", "|∇C|", "conv.")
    for name in columns:
        table.add_column(name, justify="right", min_width=7 if name == "λ" else None)
    for p in r["points"]:
        table.add_row(
            fmt(p["lambda"], digits=3), f"{p['train_accuracy']:.3f}",
            f"{p['test_accuracy']:.3f}", fmt(p["test_cross_entropy"], digits=3),
            fmt(p["cost"], digits=4), fmt(p["log_occam"], digits=4),
            fmt(p["log_evidence_ratio"], digits=4),
            fmt(p["log_evidence_ratio_per_example"], digits=3), f"{p['grad_norm']:.0e}",
            "yes" if p["converged"] else "NO",
        )
    return table
