"""``sgdsde rule``: a batch-size scaling rule (linear or square-root) tested as an equivalence
for one optimiser on MNIST-1D (docs/adaptive.md §5).

Every option is checked before any data is loaded or anything is compiled (the optimiser and
its hyper-parameters, the rule, every κ against B, N and each decay); a mistake is one line
``error: ...`` on stderr with exit code 2; ``--json`` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from .._io import json_dumps, json_safe
from .._validation import check_choice, check_int
from ..learning import load_dataset
from ..optimizers import OPTIMIZERS
from ..rules import RULES, scaled_run
from ..surfaces import learned_surface
from ._common import (
    CONVENTIONS,
    Float64Flag,
    JsonFlag,
    app,
    enable_float64,
    format_pm,
    parse_hyperparameters,
    parse_list,
    stderr,
    stdout,
    user_errors,
)


@app.command(epilog=CONVENTIONS)
def rule(
    optimizer: Annotated[str, typer.Option(
        help=f"Optimiser: {', '.join(OPTIMIZERS)} (optax itself).")] = "adam",
    rule_name: Annotated[str, typer.Option(
        "--rule", help="Scaling rule: linear (lr×κ) or sqrt (lr×√κ, each β → 1−κ(1−β), "
        "Adam eps/√κ, RMSprop eps and initial_scale /κ).")] = "sqrt",
    kappas: Annotated[str, typer.Option(
        help="Comma list of integer batch multipliers κ ≥ 1 (κ = 1 is added).")
    ] = "1,2,4,8,16",
    lr: Annotated[float | None, typer.Option(
        help="Base learning rate at κ = 1 (default: sgd 0.02, rmsprop and adam 0.001).")
    ] = None,
    hyper: Annotated[str | None, typer.Option(
        help="Base hyper-parameters as key=value, e.g. b1=0.99,b2=0.999 (defaults: adam "
        "b1=0.99, b2=0.999; rmsprop decay=0.999, bias_correction=true; so that κ ≤ 100 "
        "keeps every β ≥ 0).")] = None,
    batch_size: Annotated[int, typer.Option(help="Base batch size B at κ = 1.")] = 2,
    n_train: Annotated[int, typer.Option(help="MNIST-1D training examples N.")] = 1000,
    n_test: Annotated[int, typer.Option(help="MNIST-1D test examples.")] = 1000,
    width: Annotated[int, typer.Option(help="Hidden width of the MLP.")] = 32,
    epochs: Annotated[float, typer.Option(
        help="Training epochs (rounded up so every κ is saved at the same epochs).")] = 10.0,
    checkpoints: Annotated[int, typer.Option(
        help="Evenly spaced checkpoints, 0 and the end included (>= 2).")] = 5,
    paths: Annotated[int, typer.Option(
        help="Seeds per κ (independent minibatch streams from one initialisation).")] = 32,
    margin_fraction: Annotated[float, typer.Option(
        help="Equivalence margin as a fraction of the κ = 1 run's progress on each metric.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(
        help="Seed of the data subset, the initialisation and the ensembles.")] = 0,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
) -> None:
    """A batch-size scaling rule for one optimiser on MNIST-1D (an MLP, minibatches drawn with
    replacement): for each κ the batch is κB, the learning rate and hyper-parameters follow the
    rule and the run lasts the same epochs; the final test accuracy and train loss (mean ±
    stderr over seeds), their differences from κ = 1 with (1 − 2α) intervals, the margins and
    the verdict of two one-sided tests on the whole trajectory (α = 0.01)."""
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..studies import RULE_BASES, rule_base_run, rule_study, rule_summary
    with user_errors():
        check_choice("optimizer", optimizer, RULE_BASES)
        check_choice("rule", rule_name, RULES)
        values = parse_list("--kappas", kappas, int, "1,2,4,8,16")
        check_int("width", width)
        check_int("n_test", n_test)
        base = rule_base_run(optimizer, n_train=n_train, batch_size=batch_size, epochs=epochs,
                             kappas=values, checkpoints=checkpoints, paths=paths, seed=seed,
                             lr=lr, **parse_hyperparameters(hyper))
        for kappa in values:
            scaled_run(base, rule_name, kappa)  # κ ≥ 1, κB ≤ N, every β' ≥ 0
        dtype = enable_float64(float64)
        with stderr.status(f"loading mnist1d (N={n_train})..."):
            data = load_dataset("mnist1d", n_train=n_train, n_test=n_test, seed=seed)
            surface = learned_surface(data, "mlp", width=width, seed=seed, dtype=dtype)
        with stderr.status(f"{optimizer}, {rule_name} rule: {len(set(values) | {1})} "
                           f"ensembles of {paths} (compiling first)..."):
            start = time.perf_counter()
            study = rule_study(surface, base, rule_name, values, checkpoints=checkpoints,
                               margin_fraction=margin_fraction)
            elapsed = time.perf_counter() - start
    record = {
        "optimizer": optimizer, "rule": rule_name,
        "base": {"lr": base.lr, "batch_size": base.batch_size, "steps": base.steps,
                 "epochs": base.steps * base.batch_size / n_train,
                 "hyperparameters": base.optimizer.hyperparameters()},
        "margins": study.margins, "margin_fraction": margin_fraction, "alpha": study.alpha,
        "kappas": rule_summary(study), "study": study.to_dict(),
        "dataset": data.describe(), "width": width, "paths": paths, "seed": seed,
        "wall_seconds": elapsed,
    }
    if as_json:
        typer.echo(json_dumps(record))
        return
    stdout.print(_rule_table(json_safe(record)))
    stderr.print(f"[dim]{elapsed:.1f} s[/dim]")


def _rule_table(r: dict[str, Any]) -> Table:
    """One row per κ: final test accuracy and train loss, differences, intervals, verdict."""
    base = r["base"]
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False,
        title=f"{r['rule']} rule for {r['optimizer']} on MNIST-1D: base lr={base['lr']:g}, "
        f"B={base['batch_size']}, {base['epochs']:.3g} epochs, {r['paths']} seeds per κ",
        caption=f"margins (fraction {r['margin_fraction']:g} of the κ=1 progress): test acc "
        f"{r['margins'].get('test_accuracy', float('nan')):.4f}, train loss "
        f"{r['margins']['train_loss']:.4f}; intervals are (1 − 2α), α = {r['alpha']:g}; the "
        "verdict tests every checkpoint.",
    )
    for name in ("κ", "lr", "B", "test acc", "Δ acc [interval]", "train loss",
                 "Δ loss [interval]", "verdict"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in r["kappas"]:
        cells = [f"{row['kappa']:g}", f"{row['lr']:.4g}", str(row["batch_size"])]
        for name in ("test_accuracy", "train_loss"):
            entry = row.get(name)
            if entry is None:
                cells += ["", ""]
                continue
            low, high = entry["interval"]
            cells += [format_pm(entry["mean"], entry["stderr"]),
                      f"{entry['difference']:+.4f} [{low:+.4f}, {high:+.4f}]"]
        table.add_row(*cells, row["verdict"])
    return table
