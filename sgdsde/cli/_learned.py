"""``sgdsde learned``: SGD against its SDE on a classifier trained on a real data set.

Every option is checked before any data is loaded or anything is compiled, a mistake is one
line ``error: ...`` on stderr with exit code 2, ``--json`` prints exactly one JSON object on
stdout (NaN as null), progress goes to stderr and the figure is written atomically.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import jax.numpy as jnp
import typer
from rich import box
from rich.table import Table

from .._io import json_dumps, json_safe
from .._validation import check_choice, check_int, check_number
from ..config import RunConfig, SDEConfig, budget_steps, checkpoint_steps
from ..errors import IncompatibleChoiceError, SGDSDEError
from ..learning import DATASET_NAMES, MODEL_NAMES, check_dataset_options
from ..optimizers import OPTIMIZERS, make_optimizer
from ..sde import check_compatible
from ..sde_models import SDE_MODELS
from ..solvers import SOLVERS
from ..surfaces import LearnedSurface, learned_surface
from ._common import (
    CONVENTIONS,
    Float64Flag,
    JsonFlag,
    OptionError,
    app,
    enable_float64,
    fmt,
    format_pm,
    load_classifier_data,
    parse_hyperparameters,
    parse_list,
    prepare_writable,
    stderr,
    stdout,
    user_errors,
)

DEFAULT_BUDGET_AMOUNT = {"epochs": 5.0, "updates": 500.0, "sde_time": 10.0}
TABLE_METRICS = (("train_loss", "train loss"), ("test_loss", "test loss"),
                 ("test_accuracy", "test acc"))


def check_data_options(dataset: str, classes: list[int] | None, idx_dir: Path | None) -> None:
    """:func:`sgdsde.learning.check_dataset_options`, its errors naming the CLI option."""
    try:
        check_dataset_options(dataset, classes=classes, idx_dir=idx_dir)
    except IncompatibleChoiceError as exc:
        option = "--" + exc.names[0].replace("_", "-") if exc.names else "--dataset"
        raise OptionError(f"{option}: {exc}") from None


@app.command(epilog=CONVENTIONS)
def learned(
    dataset: Annotated[str, typer.Option(
        help="Data set: mnist1d (40 features, 10 classes), digits (sklearn 8x8, 64 features), "
        "breast_cancer (sklearn, 30 features, 2 classes, 455 training examples), "
        "teacher_student (Gaussian inputs, linear teacher) or mnist (needs --idx-dir).")
    ] = "mnist1d",
    classes: Annotated[str | None, typer.Option(
        help="Comma list of labels to keep (e.g. 0,1), relabelled 0..k-1, each split "
        "class-balanced (default: all classes).")] = None,
    n_train: Annotated[int, typer.Option(help="Training-set size N.")] = 1000,
    n_test: Annotated[int | None, typer.Option(
        help="Test-set size (default 1000, or the whole test split when it is smaller: "
        "digits 359, breast_cancer 114).")] = None,
    random_labels: Annotated[bool, typer.Option(
        "--random-labels", help="Replace train and test labels by balanced random labels.")
    ] = False,
    idx_dir: Annotated[Path | None, typer.Option(
        help="mnist only: folder with the four standard IDX files (optionally .gz).")] = None,
    model: Annotated[str, typer.Option(
        help="Classifier: mlp (one hidden ReLU layer of --width units) or logistic "
        "(multinomial; a single sigmoid logit for 2 classes).")] = "mlp",
    width: Annotated[int, typer.Option(
        help="Hidden width of the MLP. The default 800 is the published set-up (Smith & Le "
        "2018); on a CPU use e.g. 64.")] = 800,
    l2: Annotated[float, typer.Option(help="L2 coefficient λ >= 0: L + (λ/2)‖θ‖².")] = 0.0,
    lr: Annotated[float, typer.Option(help="Learning rate ε > 0.")] = 0.05,
    momentum: Annotated[float, typer.Option(help="Heavy-ball momentum m in [0, 1).")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Batch size B, 1 <= B <= N.")] = 32,
    replacement: Annotated[bool, typer.Option(
        "--replacement",
        help="Sample minibatches with replacement (i.i.d. steps, Σ_B = C/B). Default: "
        "shuffled epochs without replacement, whose noise cancels over each epoch, which "
        "the SDEs (independent increments) do not model.")] = False,
    optimizer: Annotated[str, typer.Option(
        help=f"Optimiser: {', '.join(OPTIMIZERS)} (optax itself; momentum is sgd's heavy "
        "ball).")] = "sgd",
    hyper: Annotated[str | None, typer.Option(
        help="The optimiser's hyper-parameters as key=value, e.g. b2=0.99 for adam or "
        "bias_correction=true for rmsprop (optax defaults otherwise).")] = None,
    budget: Annotated[str | None, typer.Option(
        help="Training budget kind: epochs (⌊N/B⌋ updates each), updates, or sde_time "
        "(t = updates·ε/(1−m); sgd only). Default: sde_time for sgd, epochs for rmsprop "
        "and adam.")] = None,
    budget_amount: Annotated[float | None, typer.Option(
        help="Amount of --budget (default: 10 for sde_time, 5 for epochs, 500 for "
        "updates).")] = None,
    checkpoints: Annotated[int, typer.Option(
        help="Number of evenly spaced checkpoints from step 0 to the end (>= 2).")] = 6,
    sde_model: Annotated[str | None, typer.Option(
        help="SDE model: sme1 (first-order SME), underdamped (phase-space SDE for heavy "
        "ball), sme2 (second-order SME, m=0 only), rmsprop or adam (Malladi et al.); "
        "default: sme1 for sgd, the optimiser's own SDE otherwise.")] = None,
    solver: Annotated[str | None, typer.Option(
        help=f"Diffrax solver: {', '.join(SOLVERS)} (default euler; the noise depends on θ, "
        "so sme1/sme2 need an Itô solver: euler).")] = None,
    substeps: Annotated[int, typer.Option(help="SDE solver steps per SGD step.")] = 4,
    paths: Annotated[int, typer.Option(help="Ensemble size P (independent seeds).")] = 8,
    seed: Annotated[int, typer.Option(
        help="Seed of the data subset, the initialisation and both ensembles.")] = 0,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
    figure: Annotated[Path, typer.Option(
        help="PNG of SGD and SDE train loss, test loss and test accuracy against SGD steps "
        "with ±stderr bands (folder created if missing).")
    ] = Path("results/learned/trajectories.png"),
) -> None:
    """SGD against its SDE on a classifier (MLP or logistic regression) trained on a data set:
    train loss, test loss and test accuracy at evenly spaced checkpoints, ensemble means ±
    standard errors and the SGD − SDE gap.

    Both ensembles start from the same initialisation. SGD uses real minibatches; the SDE
    uses the exact state-dependent noise Σ_B(θ)^{1/2}dW of the same minibatch scheme, realised
    with one vector–Jacobian product over the N training examples per solver step
    (docs/theory.md §2).
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import learned_trajectories_figure, save_figure
    from ..studies import compare_on_learned
    with user_errors():
        # Everything cheap first: no data is loaded and nothing compiled before this passes.
        chosen_optimizer = make_optimizer(optimizer, **parse_hyperparameters(hyper))
        adaptive = chosen_optimizer.name != "sgd"
        sde_model = sde_model or (chosen_optimizer.name if adaptive else "sme1")
        budget = budget or ("epochs" if adaptive else "sde_time")
        if adaptive and budget == "sde_time":
            raise OptionError(f"--budget=sde_time is SGD's time updates·ε/(1−m); with "
                              f"--optimizer={optimizer} use epochs or updates")
        for name, value, choices in (("dataset", dataset, DATASET_NAMES),
                                     ("model", model, MODEL_NAMES),
                                     ("sde_model", sde_model, SDE_MODELS)):
            check_choice(name, value, choices)
        chosen = None if classes is None else parse_list("--classes", classes, int, "0,1")
        check_data_options(dataset, chosen, idx_dir)
        check_number("l2", l2, at_least=0.0)
        check_int("width", width)
        check_int("n_test", n_test, optional=True)
        amount = DEFAULT_BUDGET_AMOUNT.get(budget, 1.0) if budget_amount is None else budget_amount
        steps = budget_steps(budget, amount, lr=lr, momentum=momentum, batch_size=batch_size,
                             n_train=n_train)
        run = RunConfig(lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
                        replacement=replacement, steps=steps, paths=paths, seed=seed,
                        optimizer=chosen_optimizer)
        sde = SDEConfig(model=sde_model, solver=solver, substeps=substeps)
        check_compatible(run, sde, additive_noise=LearnedSurface.additive_noise)
        save_steps = checkpoint_steps(steps, checkpoints)
        dtype = enable_float64(float64)

        with stderr.status(f"loading {dataset}..."):
            try:
                data = load_classifier_data(dataset, n_train, n_test, chosen, random_labels,
                                            seed, idx_dir)
            except SGDSDEError:
                raise
            except (OSError, ValueError) as exc:  # IDX files missing or malformed
                raise OptionError(f"dataset={dataset!r}: {exc}") from None
            surface = learned_surface(data, model, width=width, l2=l2, seed=seed, dtype=dtype)
        prepare_writable("--figure", figure, folder=False)
        with stderr.status(f"running {paths} SGD and {sde_model} paths for {steps} steps, "
                           f"d={surface.dim} (compiling first)..."):
            start = time.perf_counter()
            comparison = compare_on_learned(surface, run, sde, save_steps=save_steps)
            elapsed = time.perf_counter() - start

    tau = comparison.sde_run.info["time_per_sgd_step"]
    record: dict[str, Any] = {
        **comparison.to_dict(),
        "replacement": replacement,
        "optimizer": run.optimizer.describe(lr, momentum),
        "noise_scale": None if adaptive else run.noise_scale,
        "minibatch_noise_factor": run.noise_factor,
        "budget": {"kind": budget, "amount": amount, "steps": steps, "sde_time": tau * steps},
        "sde_dt": comparison.sde_run.info["dt"],
        "brownian": comparison.sde_run.info["brownian"],
        "dataset": data.describe(),
        "surface": {"model": model, "width": width if model == "mlp" else None, "l2": l2,
                    "init_seed": seed, "dim": surface.dim,
                    "dtype": str(jnp.dtype(dtype).name)},
        "wall_seconds": elapsed,
        "figure": str(figure),
    }
    save_figure(learned_trajectories_figure(json_safe(record)), figure)
    if as_json:
        typer.echo(json_dumps(record))
        return
    stdout.print(_learned_table(json_safe(record)))
    typer.echo(f"figure: {figure}")
    stderr.print(f"[dim]{elapsed:.1f} s on {record['device']}[/dim]")


def _learned_table(r: dict[str, Any]) -> Table:
    """One row per (checkpoint, metric): SGD, SDE and SGD − SDE, each ± stderr."""
    data, net = r["dataset"], r["surface"]
    described = net["model"] if net["width"] is None else f"{net['model']} (width {net['width']})"
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False,
        title=f"SGD vs {r['sde_model']} on {data['name']}, {described}, d={net['dim']}: "
        f"ε={r['lr']}, m={r['momentum']}, B={r['batch_size']}, N={r['n_train']}, "
        f"g={fmt(r['noise_scale'])}, P={r['paths']}",
        caption=f"{r['budget']['steps']} SGD steps = SDE time {fmt(r['budget']['sde_time'])}; "
        f"SDE: {r['sde_solver']}, dt={fmt(r['sde_dt'])} ({r['sde_substeps']} substeps), "
        f"{r['brownian']}. Minibatches {'with' if r['replacement'] else 'without'} "
        f"replacement. Diverged: SGD {r['diverged_fraction']['sgd']:.3g}, "
        f"SDE {r['diverged_fraction']['sde']:.3g}. |z| = |gap|/stderr.",
    )
    for name in ("step", "metric", "SGD ± se", "SDE ± se", "SGD − SDE ± se", "|z|"):
        table.add_column(name, justify="left" if name == "metric" else "right", no_wrap=True)
    for index, step in enumerate(r["steps"]):
        for row, (key, label) in enumerate(TABLE_METRICS):
            sgd, sde, gap = (r[side][key] for side in ("sgd", "sde", "sgd_minus_sde"))
            mean, se = gap["mean"][index], gap["stderr"][index]
            resolved = mean is not None and se is not None and se > 1e-6 * max(1, abs(mean))
            table.add_row(
                str(step) if row == 0 else "", label,
                format_pm(sgd["mean"][index], sgd["stderr"][index]),
                format_pm(sde["mean"][index], sde["stderr"][index]),
                format_pm(mean, se), f"{abs(mean) / se:.1f}" if resolved else "",
                end_section=row == len(TABLE_METRICS) - 1,
            )
    return table
