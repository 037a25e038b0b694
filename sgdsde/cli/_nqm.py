"""``sgdsde nqm``: the noisy quadratic model — SGD ensembles against the exact expected loss,
steps to a target against B with ε tuned per B, and the critical batch sizes with and
without momentum, beside the SDEs' predictions (docs/theory.md §8, docs/toolkit.md)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from .._io import json_dumps, json_safe
from .._validation import check_int, check_number
from ..config import RunConfig, check_lr, check_momentum, checkpoint_steps
from ..errors import UnstableLearningRateError
from ..surfaces import NoisyQuadratic
from ..theory import NQM_TRANSITIONS
from ._common import (
    CONVENTIONS,
    Float64Flag,
    JsonFlag,
    app,
    enable_float64,
    fmt,
    format_pm,
    parse_list,
    prepare_writable,
    stderr,
    stdout,
    user_errors,
)


@app.command(epilog=CONVENTIONS)
def nqm(
    dim: Annotated[int, typer.Option(help="Dimension d (the paper: 10⁴).")] = 1000,
    power: Annotated[float, typer.Option(help="h_i = 1/i^p, p >= 0.")] = 1.0,
    noise: Annotated[float, typer.Option(
        help="c_i = σ²·h_i with σ² > 0 (σ² scales every batch size by 1/σ²).")] = 100.0,
    lr: Annotated[float, typer.Option(
        help="Learning rate ε of the loss curves, below 2(1+m)/max h.")] = 0.5,
    momentum: Annotated[float, typer.Option(help="Momentum m of the loss curves.")] = 0.0,
    batch_sizes: Annotated[str, typer.Option(
        help="Comma list of batch sizes (loss curves and steps to target).")
    ] = "1,4,16,64,256,1024,4096,16384",
    steps: Annotated[int, typer.Option(help="Updates of the loss curves.")] = 200,
    checkpoints: Annotated[int, typer.Option(help="Checkpoints of the loss curves (>= 2).")
                           ] = 11,
    paths: Annotated[int, typer.Option(help="SGD paths per batch size.")] = 200,
    target: Annotated[float, typer.Option(
        help="Target expected loss as a fraction of the initial loss, in (0, 1).")] = 0.1,
    momenta: Annotated[str, typer.Option(
        help="Comma list of momenta for steps to target and B_crit.")] = "0,0.9",
    sde: Annotated[bool, typer.Option(
        "--sde/--no-sde", help="Also predict steps to target by the SDEs (sme1, "
        "underdamped), solved exactly.")] = True,
    max_steps: Annotated[int, typer.Option(
        help="Budget of the steps-to-target recursion (never extrapolated beyond).")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the SGD ensembles.")] = 0,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
    figure: Annotated[Path, typer.Option(
        help="Folder for nqm_loss.png (curves) and nqm_pareto.png (steps against examples).")
    ] = Path("results/nqm"),
) -> None:
    """Noisy quadratic model: SGD against the exact expected loss, steps to target per B, B_crit.

    The NQM of Zhang et al. (2019): L = ½Σh_iθ_i², gradient noise of variance c_i/B per
    coordinate. Heavy-ball SGD ensembles against the exact expected loss
    (the per-coordinate recursion M' = A M Aᵀ + b bᵀ c/B in the optax form), then the steps
    for E L to reach the target at each B with ε tuned over a grid, fitted by
    S = S_min(1 + B_crit/B), for each momentum.
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..plots import nqm_figure, pareto_figure, save_figure
    from ..scaling import check_batch_sizes, nqm_critical_batch
    from ..studies import nqm_description, nqm_ensemble_check
    with user_errors():
        sizes = check_batch_sizes(parse_list("--batch-sizes", batch_sizes, int, "1,16,256"))
        moms = [check_momentum(m) for m in parse_list("--momenta", momenta, float, "0,0.9")]
        check_lr(lr)
        check_momentum(momentum)
        check_int("steps", steps)
        check_int("paths", paths, 2)
        check_int("max_steps", max_steps)
        check_number("target", target, above=0.0, below=1.0)
        save = checkpoint_steps(steps, checkpoints)
        prepare_writable("--figure", figure, folder=True)
        dtype = enable_float64(float64)
        surface = NoisyQuadratic.power_law(dim, power, noise, dtype=dtype)
        limit = surface.max_stable_lr(momentum)
        if lr >= limit:
            raise UnstableLearningRateError(
                f"lr={lr} is unstable for heavy ball on this NQM: lr must be < 2(1+m)/max h = "
                f"{limit:.4g} at momentum={momentum}")
        start = time.perf_counter()
        checks = []
        with stderr.status("SGD ensembles (compiling first)...") as status:
            for size in sizes:
                status.update(f"SGD ensemble at B={size}")
                run = RunConfig(lr=lr, momentum=momentum, batch_size=size, steps=steps,
                                paths=paths, seed=seed)
                checks.append(nqm_ensemble_check(surface, run, save_steps=save))
        initial = float(surface.loss(surface.initial_point()))
        models = tuple(NQM_TRANSITIONS) if sde else ("sgd",)
        curves: dict[str, dict[str, Any]] = {}
        with stderr.status("steps to target (exact recursion)..."):
            for m in moms:
                curves[f"m={m:g}"] = {model: nqm_critical_batch(
                    surface, sizes, target=target * initial, momentum=m, model=model,
                    max_steps=max_steps).to_dict() for model in models}
        elapsed = time.perf_counter() - start
    record = {
        **nqm_description(surface), "dim": dim, "power": power, "noise": noise, "lr": lr,
        "momentum": momentum, "batch_sizes": list(sizes), "paths": paths, "seed": seed,
        "steps": list(save),
        **{key: [c[key] for c in checks] for key in (
            "predicted_loss", "measured_loss", "measured_loss_stderr", "z", "sme1_loss",
            "underdamped_loss")},
        "diverged": [c["diverged"] for c in checks],
        "target": target * initial, "target_fraction": target,
        "steps_to_target": curves,
        "critical_batch_size": {label: {model: (c["fit"] or {}).get("b_crit", math.nan)
                                        for model, c in per_model.items()}
                                for label, per_model in curves.items()},
        "wall_seconds": elapsed, "figure_dir": str(figure),
    }
    labels = {f"B={c['batch_size']}": c for c in checks[:: max(1, len(checks) // 3)]}
    save_figure(nqm_figure(labels, title=f"NQM (d={dim}): SGD against the exact expected loss"),
                figure / "nqm_loss.png")
    save_figure(pareto_figure({f"{label}, {model}": c for label, per in curves.items()
                               for model, c in per.items()},
                              title=f"NQM (d={dim}): steps and examples to {target:g}× the "
                              "initial loss, ε tuned per B"), figure / "nqm_pareto.png")
    if as_json:
        typer.echo(json_dumps(record))
        return
    safe = json_safe(record)
    stdout.print(_loss_table(safe))
    stdout.print(_target_table(safe))
    typer.echo(f"figures: {figure / 'nqm_loss.png'}, {figure / 'nqm_pareto.png'}")
    stderr.print(f"[dim]{elapsed:.1f} s[/dim]")


def _loss_table(r: dict[str, Any]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  title=f"NQM d={r['dim']}, ε={r['lr']}, m={r['momentum']}: loss after "
                  f"{r['steps'][-1]} updates, {r['paths']} SGD paths",
                  caption="max |z| over the checkpoints (step 0 is deterministic).")
    for name in ("B", "SGD mean ± se", "exact E L", "SME", "underdamped", "max |z|"):
        table.add_column(name, justify="right")
    for j, size in enumerate(r["batch_sizes"]):
        zs = [abs(z) for z in r["z"][j] if z is not None]
        table.add_row(str(size), format_pm(r["measured_loss"][j][-1],
                                           r["measured_loss_stderr"][j][-1]),
                      fmt(r["predicted_loss"][j][-1]), fmt(r["sme1_loss"][j][-1]),
                      fmt(r["underdamped_loss"][j][-1]), fmt(max(zs) if zs else None, digits=3))
    return table


def _target_table(r: dict[str, Any]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  title=f"Steps for E L to reach {r['target']:.4g} ({r['target_fraction']:g}× "
                  "the initial loss), ε tuned per B",
                  caption="— : not reached within --max-steps (never extrapolated). "
                  "Last row: B_crit of the fit S = S_min(1 + B_crit/B).")
    columns = [(label, model) for label, per in r["steps_to_target"].items() for model in per]
    table.add_column("B", justify="right")
    for label, model in columns:
        table.add_column(f"{model}\n{label}", justify="right")
    for j, size in enumerate(r["batch_sizes"]):
        cells = []
        for label, model in columns:
            value = r["steps_to_target"][label][model]["best_steps"][j]
            cells.append("—" if value is None else f"{value:.0f}")
        table.add_row(str(size), *cells)
    table.add_row("B_crit", *[fmt(r["critical_batch_size"][label][model], digits=3)
                              for label, model in columns])
    return table
