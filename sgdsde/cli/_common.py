"""What every ``sgdsde`` command shares: the Typer app, the consoles, how a user mistake is
reported, option parsing and number formatting.

Every user mistake (an :class:`sgdsde.errors.SGDSDEError`) is reported as one line
``error: ...`` on stderr with exit code 2, before anything is compiled. Results go to stdout;
progress and logs go to stderr, so ``--json`` prints JSON only. Every command runs with JAX's
persistent compilation cache on (``sgdsde --compile-cache DIR | --no-compile-cache COMMAND``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from ..cache import default_compile_cache, enable_compile_cache
from ..errors import ParameterRangeError, SGDSDEError
from ..learning import load_dataset

CONVENTIONS = """
Conventions: heavy ball in the optax form v ← m·v + ĝ, θ ← θ − ε·v (optax.sgd(lr, momentum)),
with minibatch gradient covariance Σ_B = f·C, f = 1/B with replacement or infinite data and
f = (1/B)(N−B)/(N−1) without. Time maps: the first- and second-order SMEs run in
t = k·ε/(1−m) after k updates, the underdamped (phase-space) SDE in t = k. Noise scale
g = ε(N/B − 1)/(1 − m). SDEs are Itô; Diffrax integrates them with `--substeps` solver steps
per SGD step. The maths: docs/theory.md.
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


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every sgdsde user error into ``error: ...`` on stderr and exit code 2."""
    try:
        yield
    except SGDSDEError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def parse_list(option: str, text: str, convert: Callable[[str], Any], example: str) -> list:
    """A comma-separated list converted entry by entry (``float`` entries must be finite),
    e.g. ``"1.0,0.4,2.5"``; :class:`OptionError` naming the option otherwise."""
    what = "numbers" if convert is float else "integer labels" if convert is int else "values"
    try:
        values = [convert(part) for part in text.split(",")]
    except ValueError:
        raise OptionError(
            f"{option}={text!r} is not a comma-separated list of {what} (e.g. {example})"
        ) from None
    if convert is float and not all(math.isfinite(v) for v in values):
        raise OptionError(f"{option}={text!r} must contain finite numbers only")
    return values


#: Test-set size of the classifier commands when --n-test is not given.
DEFAULT_N_TEST = 1000
#: Data sets of the noise-scale and SVAG commands.
NOISE_DATASETS = ("mnist1d", "digits", "breast_cancer")

#: ``--float64``, shared by every command that computes.
Float64Flag = Annotated[bool, typer.Option(
    "--float64", help="Compute in float64 (enables jax x64).")]
#: ``--json``, shared by every command with a machine-readable result.
JsonFlag = Annotated[bool, typer.Option(
    "--json", help="Print exactly one JSON object on stdout (NaN as null).")]


def parse_hyperparameters(text: str | None) -> dict[str, Any]:
    """``--hyper b1=0.99,b2=0.999`` (an optimiser's hyper-parameters) as a dict (numbers as
    floats, true/false as bools)."""
    if not text:
        return {}
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--hyper={text!r} must be a comma list of key=value "
                              "(e.g. b1=0.99,b2=0.999)")
        lowered = raw.strip().lower()
        if lowered in ("true", "false"):
            values[key.strip()] = lowered == "true"
            continue
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            raise OptionError(f"--hyper: {key.strip()}={raw!r} is not a number or "
                              "true/false") from None
    return values


def load_classifier_data(dataset: str, n_train: int, n_test: int | None,
                         classes: list[int] | None, random_labels: bool, seed: int,
                         idx_dir: Path | None) -> Any:
    """load_dataset with the commands' test-size default: 1000, or all when fewer exist."""

    def load(size: int | None) -> Any:
        return load_dataset(dataset, n_train=n_train, n_test=size, classes=classes,
                            random_labels=random_labels, seed=seed, idx_dir=idx_dir)

    if n_test is not None:
        return load(n_test)
    try:
        return load(DEFAULT_N_TEST)
    except ParameterRangeError as exc:
        if exc.name != "n_test":
            raise
        return load(None)


def enable_float64(enabled: bool) -> Any:
    """Turn on jax x64 when `enabled`; the dtype the command then computes in."""
    import jax
    import jax.numpy as jnp

    if enabled:
        jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32


def prepare_writable(option: str, path: Path, *, folder: bool) -> None:
    """Create the folder of `path` (or `path` itself when `folder`) and prove a file can be
    written there, before any compilation; :class:`OptionError` naming the option otherwise."""
    target = path if folder else path.parent
    if folder and path.exists() and not path.is_dir():
        raise OptionError(f"{option}={str(path)!r} is a file; give a folder")
    if not folder and path.is_dir():
        raise OptionError(f"{option}={str(path)!r} is a folder; give a file name, e.g. "
                          f"{path / 'figure.png'}")
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=target)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OptionError(f"{option}={str(path)!r} cannot be written: {exc}") from None


def fmt(value: Any, stderr_value: Any = None, digits: int = 4) -> str:
    """A number for a table (NaN/None as ``NaN``), optionally ``± stderr``."""
    if value is None or not np.isfinite(value):
        return "NaN"
    if stderr_value is None:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {stderr_value:.2g}"


def format_pm(mean: float | None, se: float | None) -> str:
    """``mean ± se`` with se to one significant digit (two when it starts with 1 or 2) and
    the mean to the same decimal place, e.g. ``0.1637 ± 0.0009``, ``0.0053 ± 0.0021``; a se
    at rounding level of the mean prints as ``± 0``."""
    if mean is None or not math.isfinite(mean):
        return "NaN"
    if se is None or not math.isfinite(se):
        return f"{mean:.4g}"
    if se <= 1e-6 * max(1.0, abs(mean)):
        return f"{mean:.4g} ± 0"
    exponent = math.floor(math.log10(se))
    decimals = max(0, -exponent + (se / 10.0**exponent < 3))
    rounded = f"{mean:.{decimals}f}"
    return f"{rounded.lstrip('-') if float(rounded) == 0 else rounded} ± {se:.{decimals}f}"


@app.callback()
def compile_cache_options(
    compile_cache: Annotated[Path | None, typer.Option(
        help="Folder of JAX's persistent compilation cache (default: jax/ in "
        "$SGDSDE_CACHE_DIR, else ~/.cache/sgdsde/jax): compiled kernels are stored there and "
        "reused by the next process, and by the workers of a Dask sweep.")] = None,
    no_compile_cache: Annotated[bool, typer.Option(
        "--no-compile-cache", help="Compile every kernel afresh and store none.")] = False,
) -> None:
    """Turn on the persistent compilation cache for every command (sgdsde.cache)."""
    with user_errors():
        if no_compile_cache and compile_cache is not None:
            raise OptionError("--compile-cache and --no-compile-cache exclude each other")
        if no_compile_cache:
            return
        if compile_cache is not None:
            prepare_writable("--compile-cache", compile_cache, folder=True)
        try:
            enable_compile_cache(compile_cache)
        except OSError as exc:  # the default folder only: an explicit one was checked
            stderr.print(f"compilation cache off: {default_compile_cache()} cannot be "
                         f"written ({exc})")
