"""Resumable parameter sweeps of SGD on a learned surface (THEORY §4: B_opt against ε, N, m).

A sweep is a TOML file::

    [data]                       # load_dataset
    dataset = "mnist1d"
    n_test = 1000                # optional (default: the whole test split)
    classes = [0, 1]             # optional
    seed = 0                     # data subset seed
    idx_dir = "..."              # optional, mnist only

    [model]
    name = "mlp"                 # mlp | logistic
    width = 64                   # mlp only (ignored for logistic)
    l2 = 0.0

    [grid]                       # the Cartesian product of these lists is the set of runs
    lrs = [0.05, 0.1]
    batch_sizes = [8, 32]
    momenta = [0.0]
    n_trains = [1000]
    seeds = [0, 1, 2]            # network initialisation and minibatch stream of one run
    replacement = false          # optional scalar: minibatches with replacement

    [budget]
    kind = "sde_time"            # epochs | updates | sde_time (see learned_study.budget_steps)
    amount = 10.0

    [eval]
    checkpoints = 11             # evenly spaced evaluations, 0 and the end included (>= 2)
    max_batch = 1024             # optional: at most this many runs per compiled batch

Every key is checked before anything is loaded or compiled; an unknown key or a bad value
raises :class:`SweepConfigError` naming it (``grid.lrs``, ...).

**Batching.** Runs are grouped by everything that fixes the shapes and the number of updates:
(N, B, updates, number of checkpoints). One group (cut into chunks of at most ``max_batch``
runs) is ONE call of a compiled ``vmap`` over its runs, i.e. over seeds, learning rates and
momenta together. With an ``sde_time`` budget the number of updates ⌈amount(1−m)/ε⌉ depends on
ε, so runs of different ε fall into different groups (chosen over running every ε to the
longest budget, which wastes up to half the compute on a doubling grid and would make the
per-step minibatch branch data-dependent); the update count and checkpoints are traced
arguments, so such groups reuse the same compilation when their width matches. With several
devices the run axis is sharded over a 1-D mesh (``NamedSharding``), padded to a multiple of
the device count.

**Determinism.** Run r uses the network initialised from ``seed`` and the minibatch keys
``path_keys(seed, 1, Stream.MINIBATCH)`` -- the same as ``sgdsde learned --paths 1`` -- and
the grouping depends only on the configuration, so a resumed or sharded sweep reproduces the
same rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .errors import SGDSDEError

BUDGET_KINDS = ("epochs", "updates", "sde_time")
MODEL_NAMES = ("logistic", "mlp")
DIVERGENCE_BOUND = 1e8
CONFIG_NAME = "sweep.toml"

_SECTIONS: dict[str, dict[str, bool]] = {  # key -> required
    "data": {"dataset": True, "n_test": False, "classes": False, "seed": False,
             "idx_dir": False},
    "model": {"name": True, "width": False, "l2": False},
    "grid": {"lrs": True, "batch_sizes": True, "momenta": False, "n_trains": True,
             "seeds": True, "replacement": False},
    "budget": {"kind": True, "amount": True},
    "eval": {"checkpoints": False, "max_batch": False},
}
_REQUIRED_SECTIONS = ("data", "model", "grid", "budget")


class SweepConfigError(SGDSDEError, ValueError):
    """A sweep configuration that cannot be used; the message names the key."""


class SweepDirError(SGDSDEError, ValueError):
    """An output folder that holds a different sweep (or cannot be used)."""


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration (see the module docstring for the TOML layout)."""

    dataset: str
    n_test: int | None
    classes: tuple[int, ...] | None
    data_seed: int
    idx_dir: str | None
    model: str
    width: int | None
    l2: float
    lrs: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    momenta: tuple[float, ...]
    n_trains: tuple[int, ...]
    seeds: tuple[int, ...]
    replacement: bool
    budget_kind: str
    budget_amount: float
    checkpoints: int
    max_batch: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the configuration (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: the configuration columns of its row."""

    dataset: str
    n_train: int
    n_test: int | None
    classes: tuple[int, ...] | None
    data_seed: int
    model: str
    width: int | None
    l2: float
    lr: float
    batch_size: int
    momentum: float
    replacement: bool
    seed: int
    budget_kind: str
    budget_amount: float
    checkpoints: int
    updates: int

    @property
    def run_id(self) -> str:
        """A stable hash of the run's configuration (16 hex digits)."""
        record = dataclasses.asdict(self)
        record["classes"] = None if self.classes is None else list(self.classes)
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def save_steps(self) -> list[int]:
        """The `checkpoints` evenly spaced SGD steps 0..`updates` at which metrics are saved."""
        return checkpoint_steps(self.updates, self.checkpoints)

    @property
    def noise_scale(self) -> float:
        """g = ε(N/B − 1)/(1 − m) (theory.noise_scale, in Python floats)."""
        return self.lr / (1.0 - self.momentum) * (self.n_train / self.batch_size - 1.0)

    @property
    def sde_time(self) -> float:
        """First-order SME time of the run, t = updates·ε/(1 − m)."""
        return self.updates * self.lr / (1.0 - self.momentum)


# ----------------------------------------------------------------------------- validation


def _fail(key: str, message: str, value: object = None, show: bool = True) -> SweepConfigError:
    got = f" (got {value!r})" if show else ""
    return SweepConfigError(f"config key {key}: {message}{got}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _int(section: Mapping[str, Any], key: str, name: str, minimum: int,
         default: int | None = None) -> int | None:
    if key not in section:
        return default
    value = section[key]
    if not _is_int(value) or value < minimum:
        raise _fail(name, f"must be an integer >= {minimum}", value)
    return value


def _list(section: Mapping[str, Any], key: str, name: str, check: Callable[[Any], bool],
          allowed: str, default: list[Any] | None = None) -> tuple[Any, ...]:
    if key not in section:
        if default is None:
            raise _fail(name, "is missing", show=False)
        return tuple(default)
    values = section[key]
    if not isinstance(values, list) or not values:
        raise _fail(name, f"must be a non-empty list of {allowed}", values)
    for value in values:
        if not check(value):
            raise _fail(name, f"every entry must be {allowed}", value)
    if len(set(values)) != len(values):
        raise _fail(name, "has repeated entries", values)
    return tuple(values)


def parse_config(raw: Mapping[str, Any]) -> SweepConfig:
    """Validate a parsed TOML document; raises :class:`SweepConfigError` naming the key."""
    for section in raw:
        if section not in _SECTIONS:
            raise _fail(section, f"unknown section; known sections: {', '.join(_SECTIONS)}",
                        show=False)
        if not isinstance(raw[section], dict):
            raise _fail(section, "must be a table ([section])", raw[section])
    for section in _REQUIRED_SECTIONS:
        if section not in raw:
            raise _fail(section, "section is missing", show=False)
    for section, keys in _SECTIONS.items():
        body = raw.get(section, {})
        for key in body:
            if key not in keys:
                raise _fail(f"{section}.{key}", f"unknown key; known keys of [{section}]: "
                            f"{', '.join(keys)}", show=False)
        for key, required in keys.items():
            if required and key not in body:
                raise _fail(f"{section}.{key}", "is missing", show=False)

    from .data import DATASET_NAMES

    data, model, grid = raw["data"], raw["model"], raw["grid"]
    budget, evaluation = raw["budget"], raw.get("eval", {})
    dataset = data["dataset"]
    if dataset not in DATASET_NAMES:
        raise _fail("data.dataset", f"must be one of {', '.join(DATASET_NAMES)}", dataset)
    n_test = _int(data, "n_test", "data.n_test", 1)
    classes = None
    if "classes" in data:
        classes = _list(data, "classes", "data.classes", lambda v: _is_int(v) and v >= 0,
                        "integer labels >= 0")
        if len(classes) < 2:
            raise _fail("data.classes", "needs at least 2 labels", list(classes))
    data_seed = _int(data, "seed", "data.seed", 0, default=0)
    idx_dir = data.get("idx_dir")
    if idx_dir is not None and not isinstance(idx_dir, str):
        raise _fail("data.idx_dir", "must be a string (a folder)", idx_dir)
    if dataset == "mnist" and idx_dir is None:
        raise _fail("data.idx_dir", "is needed for dataset mnist (the folder with the four "
                    "IDX files)", show=False)

    name = model["name"]
    if name not in MODEL_NAMES:
        raise _fail("model.name", f"must be one of {', '.join(MODEL_NAMES)}", name)
    width = _int(model, "width", "model.width", 1, default=64 if name == "mlp" else 0)
    if name == "logistic":
        width = None
    l2 = model.get("l2", 0.0)
    if not _is_number(l2) or l2 < 0:
        raise _fail("model.l2", "must be a finite number >= 0", l2)

    lrs = _list(grid, "lrs", "grid.lrs", lambda v: _is_number(v) and v > 0,
                "finite numbers > 0")
    batch_sizes = _list(grid, "batch_sizes", "grid.batch_sizes",
                        lambda v: _is_int(v) and v >= 1, "integers >= 1")
    momenta = _list(grid, "momenta", "grid.momenta", lambda v: _is_number(v) and 0 <= v < 1,
                    "numbers in [0, 1)", default=[0.0])
    n_trains = _list(grid, "n_trains", "grid.n_trains", lambda v: _is_int(v) and v >= 2,
                     "integers >= 2")
    seeds = _list(grid, "seeds", "grid.seeds", lambda v: _is_int(v) and v >= 0,
                  "integers >= 0")
    too_big = [b for b in batch_sizes if b > min(n_trains)]
    if too_big:
        raise _fail("grid.batch_sizes", f"every batch size must be <= the smallest n_train "
                    f"({min(n_trains)}); too large: {too_big}", show=False)
    replacement = grid.get("replacement", False)
    if not isinstance(replacement, bool):
        raise _fail("grid.replacement", "must be true or false", replacement)

    kind = budget["kind"]
    if kind not in BUDGET_KINDS:
        raise _fail("budget.kind", f"must be one of {', '.join(BUDGET_KINDS)}", kind)
    amount = budget["amount"]
    if not _is_number(amount) or amount <= 0:
        raise _fail("budget.amount", "must be a finite number > 0", amount)
    checkpoints = _int(evaluation, "checkpoints", "eval.checkpoints", 2, default=11)
    max_batch = _int(evaluation, "max_batch", "eval.max_batch", 1, default=1024)
    return SweepConfig(
        dataset=dataset, n_test=n_test, classes=classes, data_seed=data_seed, idx_dir=idx_dir,
        model=name, width=width, l2=float(l2), lrs=tuple(float(v) for v in lrs),
        batch_sizes=batch_sizes, momenta=tuple(float(v) for v in momenta), n_trains=n_trains,
        seeds=seeds, replacement=replacement, budget_kind=kind, budget_amount=float(amount),
        checkpoints=checkpoints, max_batch=max_batch,
    )


def load_config(path: str | os.PathLike) -> tuple[SweepConfig, str]:
    """Read and validate a TOML sweep file; returns the config and the file's text."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SweepConfigError(f"cannot read config {str(path)!r}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepConfigError(f"config {str(path)!r} is not valid TOML: {exc}") from None
    return parse_config(raw), text


# ----------------------------------------------------------------------------- expansion


def checkpoint_steps(steps: int, count: int) -> list[int]:
    """`count` evenly spaced SGD steps from 0 to `steps` (fewer when steps < count − 1)."""
    return sorted({round(i * steps / (count - 1)) for i in range(count)})


def expand(config: SweepConfig) -> list[RunSpec]:
    """Every run of the grid, in a fixed order (n_train, B, m, ε, seed)."""
    from .learned_study import budget_steps

    runs = []
    for n_train, batch_size, momentum, lr, seed in itertools.product(
            config.n_trains, config.batch_sizes, config.momenta, config.lrs, config.seeds):
        updates = budget_steps(config.budget_kind, config.budget_amount, lr=lr,
                               momentum=momentum, batch_size=batch_size, n_train=n_train)
        runs.append(RunSpec(
            dataset=config.dataset, n_train=n_train, n_test=config.n_test,
            classes=config.classes, data_seed=config.data_seed, model=config.model,
            width=config.width, l2=config.l2, lr=lr, batch_size=batch_size, momentum=momentum,
            replacement=config.replacement, seed=seed, budget_kind=config.budget_kind,
            budget_amount=config.budget_amount, checkpoints=config.checkpoints,
            updates=updates,
        ))
    return runs


def plan_batches(runs: Sequence[RunSpec], max_batch: int) -> list[list[RunSpec]]:
    """Runs grouped by (N, B, updates, number of checkpoints), in order of first appearance,
    each group cut into chunks of at most `max_batch` runs. Depends on the runs only."""
    groups: dict[tuple[int, int, int, int], list[RunSpec]] = {}
    for run in runs:
        key = (run.n_train, run.batch_size, run.updates, len(run.save_steps))
        groups.setdefault(key, []).append(run)
    return [group[i:i + max_batch] for group in groups.values()
            for i in range(0, len(group), max_batch)]


def batch_id(runs: Sequence[RunSpec]) -> str:
    """A stable hash of a batch of runs (16 hex digits of SHA-256 over its sorted run ids)."""
    return hashlib.sha256(",".join(sorted(r.run_id for r in runs)).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- output folder


def _normalised(text: str) -> dict[str, Any]:
    return parse_config(tomllib.loads(text)).to_dict()


def prepare_out(out: str | os.PathLike, config: SweepConfig, text: str,
                force: bool = False) -> None:
    """Create `out`, refuse a folder that holds a different sweep (unless `force`), store
    the config as ``sweep.toml`` and remove temporary files of a killed writer."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepDirError(f"--out={str(out)!r} exists and is not a folder")
    stored = out / CONFIG_NAME
    if stored.exists() and not force:
        try:
            previous = _normalised(stored.read_text())
        except (SGDSDEError, tomllib.TOMLDecodeError, OSError):
            previous = None
        if previous != config.to_dict():
            changed = sorted(k for k in config.to_dict()
                             if previous is None or previous.get(k) != config.to_dict()[k])
            raise SweepDirError(
                f"--out={str(out)!r} holds a different sweep ({stored} differs in: "
                f"{', '.join(changed)}); use another folder, or --force to run this config "
                "there anyway (finished runs of the old config stay in the results)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not stored.exists() or force:
            handle, temp = tempfile.mkstemp(prefix=store.TEMP_PREFIX, dir=out)
            with os.fdopen(handle, "w") as stream:
                stream.write(text)
            os.chmod(temp, 0o644)
            os.replace(temp, stored)
        store.clean_temporary(out)
    except OSError as exc:
        raise SweepDirError(f"--out={str(out)!r} cannot be written: {exc}") from None


# ----------------------------------------------------------------------------- execution


@dataclasses.dataclass
class SweepSummary:
    """Counts of one :func:`run_sweep` call: runs in the grid, skipped (already stored), ran,
    diverged (flagged or non-finite metric), batches written, and wall-clock seconds."""

    total: int
    skipped: int
    ran: int
    diverged: int
    batches: int
    wall_seconds: float


def _group_metrics(surface, theta0, lr, momentum, keys, save_steps, *, batch, bound):
    """Metrics (R, S) and divergence flags (R,) of R runs sharing B, N, updates and the save
    steps (one unbatched (S,) array: the step counter then stays unbatched under vmap, so the
    once-per-epoch reshuffle remains a real branch instead of running at every step)."""
    import jax

    from .results import diverged_paths
    from .sgd import _sgd_ensemble

    def one(th, e, m, k, s):
        return _sgd_ensemble(surface, th, e, m, k, s, batch=batch, coupling=None)[0]

    theta = jax.vmap(one, in_axes=(0, 0, 0, 0, None))(theta0, lr, momentum, keys, save_steps)
    metrics = jax.vmap(jax.vmap(surface.metrics))(theta)
    return metrics, diverged_paths(theta, bound)


_compiled: Callable[..., Any] | None = None


def _compiled_group() -> Callable[..., Any]:
    global _compiled
    if _compiled is None:
        import equinox as eqx

        _compiled = eqx.filter_jit(_group_metrics)
    return _compiled


def _load_data(config: SweepConfig, n_train: int):
    from .data import load_dataset

    try:
        return load_dataset(config.dataset, n_train=n_train, n_test=config.n_test,
                            classes=config.classes, seed=config.data_seed,
                            idx_dir=config.idx_dir)
    except SGDSDEError as exc:
        raise SweepConfigError(f"[data] with n_train={n_train}: {exc}") from None
    except (OSError, ValueError) as exc:  # IDX files missing or malformed
        raise SweepConfigError(f"config key data.dataset={config.dataset!r}: {exc}") from None


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepSummary:
    """Run every run of `config` not yet in the store at `out` (call :func:`prepare_out`
    first). `on_progress(done, total, message)` is called before and after each batch."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from . import __version__
    from .brownian import Stream, path_keys
    from .surfaces import learned_surface

    start = time.perf_counter()
    runs = expand(config)
    batches = plan_batches(runs, config.max_batch)
    done_ids = store.finished_ids(out)
    total = len(runs)
    done = sum(r.run_id in done_ids for r in runs)
    skipped = done
    report = on_progress or (lambda *_: None)
    report(done, total, "loading data")

    # Load every data set before compiling anything (a too-large n_train fails here).
    surfaces = {}
    for n_train in sorted({r.n_train for r in runs if r.run_id not in done_ids}):
        data = _load_data(config, n_train)
        surfaces[n_train] = {
            seed: learned_surface(data, config.model, width=config.width or 1,
                                  l2=config.l2, seed=seed)
            for seed in config.seeds
        }

    devices = jax.devices()
    mesh_sharding = None
    if len(devices) > 1:
        mesh = Mesh(np.array(devices), ("runs",))
        mesh_sharding = NamedSharding(mesh, PartitionSpec("runs"))
    device = f"{devices[0].platform}:{devices[0].device_kind}"
    compiled = _compiled_group()
    ran = diverged_count = written = 0
    for batch in batches:
        todo = [r for r in batch if r.run_id not in done_ids]
        if not todo:
            continue
        first = todo[0]
        report(done, total, f"N={first.n_train} B={first.batch_size} "
               f"{first.updates} updates, {len(todo)} runs")
        batch_start = time.perf_counter()
        per_seed = surfaces[first.n_train]
        surface = per_seed[config.seeds[0]]
        padded = list(todo)
        if mesh_sharding is not None:
            padded += [todo[-1]] * (-len(todo) % len(devices))
        dtype = surface.theta_init.dtype
        theta0 = jnp.stack([per_seed[r.seed].theta_init for r in padded])
        lr = jnp.asarray([r.lr for r in padded], dtype)
        momentum = jnp.asarray([r.momentum for r in padded], dtype)
        keys = jnp.stack([path_keys(r.seed, 1, Stream.MINIBATCH) for r in padded])
        save_steps = jnp.asarray(first.save_steps, jnp.int32)  # the same for the whole group
        if mesh_sharding is not None:
            theta0, lr, momentum, keys = (
                jax.device_put(x, mesh_sharding) for x in (theta0, lr, momentum, keys))
        metrics, diverged = compiled(
            surface, theta0, lr, momentum, keys, save_steps,
            batch=(first.batch_size, first.n_train, first.replacement),
            bound=DIVERGENCE_BOUND)
        metrics = {k: np.asarray(v, np.float64)[:len(todo)] for k, v in metrics.items()}
        diverged = np.asarray(diverged)[:len(todo)]
        wall = time.perf_counter() - batch_start
        rows = []
        bid = batch_id(todo)
        for i, run in enumerate(todo):
            values = {k: v[i] for k, v in metrics.items()}
            bad = bool(diverged[i]) or not all(np.all(np.isfinite(v)) for v in values.values())
            diverged_count += bad
            if bad:
                best, best_step = float("nan"), None
                final = dict.fromkeys(values, float("nan"))
            else:
                index = int(np.argmax(values["test_accuracy"]))
                best, best_step = float(values["test_accuracy"][index]), run.save_steps[index]
                final = {k: float(v[-1]) for k, v in values.items()}
            row = dataclasses.asdict(run)
            row["classes"] = (None if run.classes is None
                              else ",".join(str(c) for c in run.classes))
            row.update(
                run_id=run.run_id, batch_id=bid, sde_time=run.sde_time,
                noise_scale=run.noise_scale, diverged=bad,
                final_test_accuracy=final["test_accuracy"], best_test_accuracy=best,
                best_step=best_step, final_test_loss=final["test_loss"],
                final_train_loss=final["train_loss"],
                final_train_accuracy=final["train_accuracy"], wall_seconds=wall,
                batch_runs=len(todo), device=device, n_devices=len(devices),
                sgdsde_version=__version__,
            )
            rows.append(row)
        store.write_batch(out, bid, rows)
        written += 1
        ran += len(todo)
        done += len(todo)
        done_ids.update(r.run_id for r in todo)
        report(done, total, "")
    return SweepSummary(total=total, skipped=skipped, ran=ran, diverged=diverged_count,
                        batches=written, wall_seconds=time.perf_counter() - start)
