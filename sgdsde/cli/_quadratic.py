"""``sgdsde quadratic``: SGD against one SDE model on a quadratic, with the closed forms."""

from __future__ import annotations

import time
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from .._io import json_dumps, json_safe
from ..config import BROWNIAN_PATHS, RunConfig, SDEConfig, check_lr, check_momentum
from ..sde_models import SDE_MODELS
from ..solvers import SOLVERS
from ..surfaces import Quadratic
from ._common import (
    CONVENTIONS,
    Float64Flag,
    JsonFlag,
    OptionError,
    app,
    enable_float64,
    fmt,
    parse_list,
    stderr,
    stdout,
    user_errors,
)


def default_spectra(dim: int) -> tuple[list[float], list[float]]:
    """H and C eigenvalues used when none are given: (1, 0.4, 2.5) and (1, 0.5, 2) for d = 3,
    log-spaced over [0.4, 2.5] and [2, 0.5] otherwise."""
    if dim == 3:
        return [1.0, 0.4, 2.5], [1.0, 0.5, 2.0]
    return np.logspace(-0.4, 0.4, dim).tolist(), np.logspace(0.3, -0.3, dim).tolist()


def _spectra(dim: int | None, hessian_eigs: str | None, noise_eigs: str | None):
    if dim is not None and dim < 1:
        raise OptionError(f"--dim={dim} is out of range: --dim must be an integer >= 1")
    hessian = (None if hessian_eigs is None
               else parse_list("--hessian-eigs", hessian_eigs, float, "1.0,0.4,2.5"))
    noise = (None if noise_eigs is None
             else parse_list("--noise-eigs", noise_eigs, float, "1.0,0.5,2.0"))
    given = [len(x) for x in (hessian, noise) if x is not None]
    size = dim if dim is not None else (given[0] if given else 3)
    for option, values in (("--hessian-eigs", hessian), ("--noise-eigs", noise)):
        if values is not None and len(values) != size:
            raise OptionError(
                f"{option} has {len(values)} values but the dimension is {size} "
                "(set by --dim or the other eigenvalue list); give one value per dimension"
            )
    default_h, default_c = default_spectra(size)
    return hessian or default_h, noise or default_c


@app.command(epilog=CONVENTIONS)
def quadratic(
    dim: Annotated[int | None, typer.Option(
        help="Dimension d (default 3, or the length of the eigenvalue lists).")] = None,
    hessian_eigs: Annotated[str | None, typer.Option(
        help="Comma list of H's eigenvalues, all > 0 (default 1.0,0.4,2.5 for d=3; "
        "logspace over 0.4..2.5 otherwise).")] = None,
    noise_eigs: Annotated[str | None, typer.Option(
        help="Comma list of the per-example gradient covariance C's eigenvalues, all >= 0 "
        "(default 1.0,0.5,2.0 for d=3; logspace over 2..0.5 otherwise).")] = None,
    rotate: Annotated[bool, typer.Option(
        "--rotate/--aligned",
        help="Rotate C by a seeded Haar rotation so it does not commute with H (default), "
        "or keep it aligned with H's eigenbasis.")] = True,
    rotation_seed: Annotated[int, typer.Option(help="Seed of the Haar rotation.")] = 0,
    lr: Annotated[float, typer.Option(help="Learning rate ε > 0.")] = 0.1,
    momentum: Annotated[float, typer.Option(help="Heavy-ball momentum m in [0, 1).")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Batch size B >= 1.")] = 1,
    n_train: Annotated[int | None, typer.Option(
        help="Training-set size N (default: infinite data, f = 1/B).")] = None,
    replacement: Annotated[bool, typer.Option(
        help="Sample minibatches with replacement (f = 1/B).")] = False,
    model: Annotated[str, typer.Option(
        help=f"SDE model, one of {', '.join(SDE_MODELS)}: sme1 (first-order SME), sme2 "
        "(second-order, m=0 only) or underdamped (phase-space SDE for heavy ball).")] = "sme1",
    solver: Annotated[str | None, typer.Option(
        help=f"Diffrax solver: {', '.join(SOLVERS)} (default: shark for this additive "
        "noise).")] = None,
    substeps: Annotated[int, typer.Option(help="SDE solver steps per SGD step.")] = 4,
    brownian: Annotated[str, typer.Option(
        help=f"Brownian path, one of {', '.join(BROWNIAN_PATHS)}: unsafe is "
        "UnsafeBrownianPath (fast), tree is VirtualBrownianTree.")] = "unsafe",
    paths: Annotated[int, typer.Option(help="Ensemble size P (independent runs).")] = 4000,
    steps: Annotated[int | None, typer.Option(
        help="SGD updates from θ* (default auto: steps_to_stationarity, the updates after "
        "which the transient is below 1e-3 relative, clipped to [50, 20000]; 20000 when "
        "the learning rate is unstable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of both ensembles.")] = 0,
    allow_unstable: Annotated[bool, typer.Option(
        help="Run a learning rate outside heavy ball's stable region (ε·λ_max(H) >= 2(1+m)) "
        "and record divergence instead of refusing.")] = False,
    float64: Float64Flag = False,
    as_json: JsonFlag = False,
) -> None:
    """Stationary covariance of SGD and of one SDE model on a quadratic, against the closed
    forms (discrete and continuous Lyapunov solutions).

    The quadratic is L(θ) = ½θᵀHθ with H = diag(--hessian-eigs) and constant per-example
    gradient covariance C = R·diag(--noise-eigs)·Rᵀ. Both ensembles start at θ* = 0 and
    their final states are taken as draws from the stationary law.
    """
    # the command's heavy modules load when it runs, not at every `sgdsde` start
    from ..studies import auto_steps, compare_on_quadratic
    with user_errors():
        h, c = _spectra(dim, hessian_eigs, noise_eigs)
        dtype = enable_float64(float64)
        surface = Quadratic.from_spectra(h, c, rotate_noise=rotate, seed=rotation_seed,
                                         dtype=dtype)
        sde = SDEConfig(model=model, solver=solver, substeps=substeps,
                        brownian=brownian)  # type: ignore[arg-type]
        check_lr(lr)
        check_momentum(momentum)
        if steps is None:
            steps = auto_steps(surface, lr, momentum, 50, 20000)
        run = RunConfig(lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
                        replacement=replacement, steps=steps, paths=paths, seed=seed)
        with stderr.status(f"running {paths} SGD and {model} paths for {steps} steps "
                           "(compiling first)..."):
            start = time.perf_counter()
            comparison = compare_on_quadratic(surface, run, sde, allow_unstable=allow_unstable)
            elapsed = time.perf_counter() - start
    record = comparison.to_dict()
    if as_json:
        typer.echo(json_dumps(record))
        return
    stdout.print(_comparison_table(record))
    stderr.print(f"[dim]{elapsed:.1f} s on {record['device']}[/dim]")


def _comparison_table(record: dict[str, Any]) -> Table:
    r = json_safe(record)
    table = Table(
        title=f"SGD vs {r['sde_model']} on a {len(r['hessian'])}-D quadratic: ε={r['lr']}, "
        f"m={r['momentum']}, B={r['batch_size']}, N={r['n_train'] or '∞'}, "
        f"{r['steps']} steps, P={r['paths']}",
        caption=f"SDE: {r['sde_solver']}, dt={r['sde_dt']:.4g} ({r['sde_substeps']} substeps), "
        f"{r['brownian']}. Diverged: SGD {r['diverged_fraction']['sgd']:.3g}, "
        f"SDE {r['diverged_fraction']['sde']:.3g}. Gaussian W2(SGD, SDE) = "
        f"{fmt(r['w2_sgd_sde'], r['w2_sgd_sde_stderr'])}. Closed-form relative gap "
        f"{fmt(r['theory_relative_gap'])}.",
    )
    for name in ("entry", "SGD", "± se", "discrete Lyap.", "SDE", "± se", "contin. Lyap."):
        table.add_column(name, justify="right")
    dim = len(r["hessian"])

    def at(key: str, i: int, j: int) -> Any:
        return None if r[key] is None else r[key][i][j]

    for i, j in zip(*np.triu_indices(dim), strict=True):
        i, j = int(i), int(j)
        table.add_row(
            f"({i + 1},{j + 1})",
            fmt(at("sgd_cov", i, j)), fmt(at("sgd_cov_stderr", i, j), digits=2),
            fmt(at("theory_sgd_cov", i, j)),
            fmt(at("sde_cov", i, j)), fmt(at("sde_cov_stderr", i, j), digits=2),
            fmt(at("theory_sde_cov", i, j)),
        )
    return table
