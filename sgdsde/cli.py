"""The ``sgdsde`` command: thin wrappers over the library that own progress and file output.

Every user mistake (an :class:`sgdsde.errors.SGDSDEError`) is reported as one line
``error: ...`` on stderr with exit code 2, before anything is compiled. Results go to stdout;
progress and logs go to stderr, so ``sgdsde quadratic --json`` prints JSON only.
``sgdsde learned`` (a classifier on a data set) is defined in :mod:`sgdsde.cli_learned`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import BROWNIAN_PATHS, SDE_MODELS, SOLVERS
from .errors import SGDSDEError

CONVENTIONS = """
Conventions: heavy ball in the optax form v ← m·v + ĝ, θ ← θ − ε·v (optax.sgd(lr, momentum)),
with minibatch gradient covariance Σ_B = f·C, f = 1/B with replacement or infinite data and
f = (1/B)(N−B)/(N−1) without. Time maps: the first- and second-order SMEs run in
t = k·ε/(1−m) after k updates, the underdamped (phase-space) SDE in t = k. Noise scale
g = ε(N/B − 1)/(1 − m). SDEs are Itô; Diffrax integrates them with `--substeps` solver steps
per SGD step.
"""

app = typer.Typer(
    name="sgdsde",
    help="SGD as an SDE: Diffrax SDE models of SGD checked against real discrete SGD and "
    "closed forms. Start with `sgdsde tour` (every claim of the package, one report); then "
    "`quadratic`, `learned`, `sweep` + `scaling` and `evidence` explore one question each."
    "\n\n" + CONVENTIONS,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stderr = Console(stderr=True)
stdout = Console()


class OptionError(SGDSDEError, ValueError):
    """A command-line option that cannot be parsed."""


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn every sgdsde user error into ``error: ...`` on stderr and exit code 2."""
    try:
        yield
    except SGDSDEError as exc:
        raise _fail(exc) from None


def parse_floats(option: str, text: str) -> list[float]:
    """A comma-separated list of finite numbers, e.g. ``"1.0,0.4,2.5"``."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise OptionError(
            f"{option}={text!r} is not a comma-separated list of numbers (e.g. 1.0,0.4,2.5)"
        ) from None
    if not all(np.isfinite(values)):
        raise OptionError(f"{option}={text!r} must contain finite numbers only")
    return values


def default_spectra(dim: int) -> tuple[list[float], list[float]]:
    """H and C eigenvalues used when none are given: (1, 0.4, 2.5) and (1, 0.5, 2) for d = 3,
    log-spaced over [0.4, 2.5] and [2, 0.5] otherwise."""
    if dim == 3:
        return [1.0, 0.4, 2.5], [1.0, 0.5, 2.0]
    return np.logspace(-0.4, 0.4, dim).tolist(), np.logspace(0.3, -0.3, dim).tolist()


def _spectra(dim: int | None, hessian_eigs: str | None, noise_eigs: str | None):
    if dim is not None and dim < 1:
        raise OptionError(f"--dim={dim} is out of range: --dim must be an integer >= 1")
    hessian = None if hessian_eigs is None else parse_floats("--hessian-eigs", hessian_eigs)
    noise = None if noise_eigs is None else parse_floats("--noise-eigs", noise_eigs)
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


def _json_dumps(record: Any, **kwargs: Any) -> str:
    from .tour import json_safe

    return json.dumps(json_safe(record), allow_nan=False, **kwargs)


def _readable(path: str) -> None:
    """Give a mkstemp file (mode 0600) the permissions an ordinary new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _write_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    _readable(tmp)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _enable_float64(enabled: bool) -> Any:
    import jax
    import jax.numpy as jnp

    if enabled:
        jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32


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
    float64: Annotated[bool, typer.Option(
        "--float64", help="Compute in float64 (enables jax x64).")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print exactly one JSON object on stdout (NaN as null).")] = False,
) -> None:
    """Stationary covariance of SGD and of one SDE model on a quadratic, against the closed
    forms (discrete and continuous Lyapunov solutions).

    The quadratic is L(θ) = ½θᵀHθ with H = diag(--hessian-eigs) and constant per-example
    gradient covariance C = R·diag(--noise-eigs)·Rᵀ. Both ensembles start at θ* = 0 and
    their final states are taken as draws from the stationary law.
    """
    from .config import RunConfig, SDEConfig
    from .quadratic_study import compare_on_quadratic
    from .surfaces import Quadratic
    from .tour import auto_steps

    with _user_errors():
        h, c = _spectra(dim, hessian_eigs, noise_eigs)
        dtype = _enable_float64(float64)
        surface = Quadratic.from_spectra(h, c, rotate_noise=rotate, seed=rotation_seed,
                                         dtype=dtype)
        sde = SDEConfig(model=model, solver=solver, substeps=substeps,
                        brownian=brownian)  # type: ignore[arg-type]
        probe = RunConfig(lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
                          replacement=replacement, steps=1, paths=1, seed=seed)
        if steps is None:
            steps = auto_steps(surface, probe, 50, 20000)
        run = RunConfig(lr=lr, momentum=momentum, batch_size=batch_size, n_train=n_train,
                        replacement=replacement, steps=steps, paths=paths, seed=seed)
        with stderr.status(f"running {paths} SGD and {model} paths for {steps} steps "
                           "(compiling first)..."):
            start = time.perf_counter()
            comparison = compare_on_quadratic(surface, run, sde, allow_unstable=allow_unstable)
            elapsed = time.perf_counter() - start
    record = comparison.to_dict()
    if as_json:
        typer.echo(_json_dumps(record))
        return
    stdout.print(_comparison_table(record))
    stderr.print(f"[dim]{elapsed:.1f} s on {record['device']}[/dim]")


def _fmt(value: Any, stderr_value: Any = None, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "NaN"
    if stderr_value is None:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {stderr_value:.2g}"


def _comparison_table(record: dict[str, Any]) -> Table:
    from .tour import json_safe

    r = json_safe(record)
    table = Table(
        title=f"SGD vs {r['sde_model']} on a {len(r['hessian'])}-D quadratic: ε={r['lr']}, "
        f"m={r['momentum']}, B={r['batch_size']}, N={r['n_train'] or '∞'}, "
        f"{r['steps']} steps, P={r['paths']}",
        caption=f"SDE: {r['sde_solver']}, dt={r['sde_dt']:.4g} ({r['sde_substeps']} substeps), "
        f"{r['brownian']}. Diverged: SGD {r['diverged_fraction']['sgd']:.3g}, "
        f"SDE {r['diverged_fraction']['sde']:.3g}. Gaussian W2(SGD, SDE) = "
        f"{_fmt(r['w2_sgd_sde'], r['w2_sgd_sde_stderr'])}. Closed-form relative gap "
        f"{_fmt(r['theory_relative_gap'])}.",
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
            _fmt(at("sgd_cov", i, j)), _fmt(at("sgd_cov_stderr", i, j), digits=2),
            _fmt(at("theory_sgd_cov", i, j)),
            _fmt(at("sde_cov", i, j)), _fmt(at("sde_cov_stderr", i, j), digits=2),
            _fmt(at("theory_sde_cov", i, j)),
        )
    return table


@app.command(epilog=CONVENTIONS)
def tour(
    out: Annotated[Path, typer.Option(help="Directory for report.md, results.json, the "
                                      "figures and the sweep (created if missing).")]
    = Path("results/tour"),
    parts: Annotated[str, typer.Option(
        help="Comma list of the parts to run, in any order: quadratic, learned, scaling, "
        "evidence (default: all four).")] = "quadratic,learned,scaling,evidence",
    quick: Annotated[bool, typer.Option(
        "--quick", help="Much smaller runs (loose error bars; for smoke tests).")] = False,
    seed: Annotated[int, typer.Option(
        help="Seed of every ensemble, data subset and bootstrap (the sweep's seeds are the "
        "ones of its packaged config).")] = 0,
    float64: Annotated[bool, typer.Option(
        "--float64", help="Run the quadratic part in float64 (enables jax x64; the evidence "
        "part always uses float64).")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with code 1 when a claim did not hold.")] = False,
) -> None:
    """The tour a newcomer should see, on built-in defaults (about 6–8 minutes on a 2-core
    CPU; --quick: about 2).

    (1) quadratic: SGD (m=0) and the first-order SME on a 3-D quadratic with noise not aligned
    with the curvature against the discrete and continuous Lyapunov solutions, heavy ball
    against the underdamped SDE, the stationary gap over a decade of ε (predicted ∝ ε) and the
    weak error of the first- and second-order SMEs on a double well; (2) learned: SGD against
    the SME on MNIST-1D, agreement at small ε and breakdown at large ε; (3) scaling: a small
    batch-size sweep (resumed if interrupted), B_opt against ε, the collapse of test accuracy
    in g, and decay ε ≡ grow B; (4) evidence: Laplace evidence for random and informative
    labels, and the curvature of SGD end points against g. Writes one report (report.md with
    the figures), results.json and the PNGs into --out and prints the report's path.
    """
    from . import plots
    from .report import build_report, environment
    from .tour import json_safe
    from .tour_main import check_parts, run_part

    with _user_errors():
        chosen = check_parts([p.strip() for p in parts.split(",") if p.strip()])
        _enable_float64(float64)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        results = []
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=stderr, transient=False) as progress:
            task = progress.add_task("starting", total=len(chosen))
            sweep_task = None

            def on_sweep(done: int, total: int, message: str) -> None:
                nonlocal sweep_task
                if sweep_task is None:
                    sweep_task = progress.add_task("sweep runs", total=total)
                progress.update(sweep_task, completed=done, total=total)

            for index, key in enumerate(chosen):
                def on_step(text: str, index: int = index, key: str = key) -> None:
                    progress.update(task, description=f"{key}: {escape(text)}",
                                    completed=index)

                results.append(run_part(key, quick=quick, seed=seed, float64=float64,
                                        workdir=out, on_step=on_step,
                                        on_sweep_progress=on_sweep))
            progress.update(task, description="done", completed=len(chosen))
        wall = time.perf_counter() - start
        import jax

        device = jax.devices()[0]
        record = {
            "sections": {r.key: r.record for r in results},
            "seconds": {r.key: r.record["seconds"] for r in results},
            "wall_seconds": wall, "device": f"{device.platform}:{device.device_kind}",
            "environment": environment(),
        }
        names = {r.key: [plots.save_figure(figure, out / f"{stem}.png").name
                         for stem, figure in r.figures.items()] for r in results}
        _write_atomic(out / "results.json", _json_dumps(record, indent=2) + "\n")
        report_path = out / "report.md"
        _write_atomic(report_path, build_report(json_safe(record),
                                                {r.key: r.markdown for r in results},
                                                names, record["environment"]))
    summary = Table(title=f"sgdsde tour ({wall:.0f} s)")
    summary.add_column("")
    summary.add_column("part")
    summary.add_column("claim")
    summary.add_column("measured")
    claims = [(r.key, c) for r in results for c in r.record["claims"]]
    for key, claim in claims:
        summary.add_row("[green]held[/green]" if claim["held"] else "[red]FAILED[/red]", key,
                        escape(claim["statement"]), escape(claim["measured"]))
    stdout.print(summary)
    typer.echo(f"report: {report_path}")
    if strict and not all(c["held"] for _, c in claims):
        raise typer.Exit(code=1)


# `sgdsde learned`, `evidence`, `sweep` and `scaling` live in their own modules; importing
# them registers the commands on `app`.
from . import cli_evidence as cli_evidence  # noqa: E402
from . import cli_learned as cli_learned  # noqa: E402
from . import cli_scaling as cli_scaling  # noqa: E402
from . import cli_sweep as cli_sweep  # noqa: E402

if __name__ == "__main__":  # pragma: no cover
    app()
