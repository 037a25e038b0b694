"""``sgdsde evidence``: the Laplace log evidence of a classifier against the null model, across
a grid of L2 strengths λ (THEORY §5).

Importing this module registers the command on :data:`sgdsde.cli.app`, with the house
conventions of :mod:`sgdsde.cli`: every option is checked before any data is loaded or anything
compiled, a mistake is one line ``error: ...`` on stderr with exit code 2, ``--json`` prints
exactly one JSON object on stdout (NaN as null), progress goes to stderr and the figure is
written atomically. The evidence is computed in float64 (jax x64 is switched on).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from .cli import OptionError, _fmt, _json_dumps, _user_errors, app, stderr, stdout
from .config import check_choice
from .errors import ParameterRangeError

EVIDENCE_DATASETS = ("digits", "mnist1d")
LABELS = ("informative", "random")
MODELS = ("logistic", "mlp")
FIGURE_NAME = "evidence.png"


def _prepare_dir(folder: Path) -> None:
    """Create `folder` and prove a file can be written there (before any compilation)."""
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"--figure-dir={str(folder)!r} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OptionError(f"--figure-dir={str(folder)!r} cannot be written: {exc}") from None


def _check(dataset: str, labels: str, model: str, hessian: str, n_train: int,
           n_test: int | None, width: int) -> None:
    from .evidence import HESSIAN_METHODS

    for name, value, choices in (("dataset", dataset, EVIDENCE_DATASETS),
                                 ("labels", labels, LABELS), ("model", model, MODELS),
                                 ("hessian", hessian, HESSIAN_METHODS)):
        check_choice(name, value, tuple(choices))
    if n_train < 2:
        raise ParameterRangeError("n_train", n_train, "an integer >= 2")
    if n_test is not None and n_test < 1:
        raise ParameterRangeError("n_test", n_test, "an integer >= 1")
    if width < 1:
        raise ParameterRangeError("width", width, "an integer >= 1")


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
        "--seed). One draw: at large λ its ratio's sign is nearly random (E ∝ −λ⁻², sd ∝ λ⁻¹; "
        "sgdsde.random_labels.random_label_study averages draws against the closed form).")
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
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print exactly one JSON object on stdout (NaN as null).")] = False,
    figure_dir: Annotated[Path, typer.Option(
        help=f"Folder for {FIGURE_NAME}: train/test accuracy, test cross-entropy and the log "
        "evidence ratio per example against λ (created if missing).")
    ] = Path("results/evidence"),
) -> None:
    """Laplace log evidence against the null model (predict 1/n) across L2 strengths λ.

    For each λ the classifier is trained to the minimum ω₀ of the SUMMED cost
    C(ω) = −Σ_i ln P(y_i|ω,x_i) + (λ/2)‖ω‖² (Newton, float64; gradient norm and a converged
    flag reported), and ln P(y|x) − ln P_null = −C(ω₀) − ½Σ_j ln(λ_j/λ) + N ln n, with λ_j the
    eigenvalues of ∇∇C(ω₀) (THEORY §5).
    """
    from .cli_learned import parse_classes
    from .evidence import parse_lambdas

    with _user_errors():
        _check(dataset, labels, model, hessian, n_train, n_test, width)
        chosen = parse_classes(classes)
        grid = parse_lambdas(lambdas)
        _prepare_dir(figure_dir)
        import jax

        jax.config.update("jax_enable_x64", True)
        from .data import load_dataset
        from .evidence import evidence_sweep

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

    from .plots import save_figure
    from .plots_evidence import evidence_figure

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
        typer.echo(_json_dumps(record))
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
            _fmt(p["lambda"], digits=3), f"{p['train_accuracy']:.3f}",
            f"{p['test_accuracy']:.3f}", _fmt(p["test_cross_entropy"], digits=3),
            _fmt(p["cost"], digits=4), _fmt(p["log_occam"], digits=4),
            _fmt(p["log_evidence_ratio"], digits=4),
            _fmt(p["log_evidence_ratio_per_example"], digits=3), f"{p['grad_norm']:.0e}",
            "yes" if p["converged"] else "NO",
        )
    return table
