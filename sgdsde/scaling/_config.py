"""Sweep configurations: a TOML file describing a grid of SGD runs on a learned surface
(docs/theory.md §4: B_opt against ε, N and m).

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
    kind = "sde_time"            # epochs | updates | sde_time (sgdsde.config.budget_steps)
    amount = 10.0

    [optimizer]                  # optional: sgd (default, heavy ball m from grid.momenta),
    name = "adam"                # rmsprop or adam (grid.momenta = [0], budget in epochs or
    b2 = 0.99                    # updates), with any of its hyper-parameters (optimizers.py)

    [eval]
    checkpoints = 11             # evenly spaced evaluations, 0 and the end included (>= 2)
    max_batch = 1024             # optional: at most this many runs per compiled batch

Every key is checked before anything is loaded or compiled, by the package's one validation
mechanism; an unknown key or a bad value raises :class:`~sgdsde.errors.SweepConfigError`
naming it (``grid.lrs``, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._validation import check_choice, check_int, check_list, check_number, is_int, is_number
from ..config import BUDGETS
from ..errors import (
    IncompatibleChoiceError,
    ParameterRangeError,
    SweepConfigError,
    UnknownNameError,
)
from ..learning import DATASET_NAMES, MODEL_NAMES, check_dataset_options
from ..optimizers import OPTIMIZERS, Optimizer, make_optimizer

_SECTIONS: dict[str, dict[str, bool]] = {  # key -> required
    "data": {"dataset": True, "n_test": False, "classes": False, "seed": False,
             "idx_dir": False},
    "model": {"name": True, "width": False, "l2": False},
    "grid": {"lrs": True, "batch_sizes": True, "momenta": False, "n_trains": True,
             "seeds": True, "replacement": False},
    "budget": {"kind": True, "amount": True},
    "eval": {"checkpoints": False, "max_batch": False},
    "optimizer": {"name": False},  # required in the section; with its hyper-parameters
}
_REQUIRED_SECTIONS = ("data", "model", "grid", "budget")


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
    optimizer: str = "sgd"
    #: the optimiser's hyper-parameters other than its defaults, as sorted (key, value) pairs
    #: (numbers as floats)
    optimizer_options: tuple[tuple[str, float | bool], ...] = ()

    def optimizer_config(self) -> Optimizer:
        """The optimiser every run of the sweep uses (:func:`sgdsde.optimizers.make_optimizer`)."""
        return make_optimizer(self.optimizer, **dict(self.optimizer_options))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the configuration (tuples as lists)."""
        record = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in dataclasses.asdict(self).items()}
        record["optimizer_options"] = dict(self.optimizer_options)
        return record

    def to_toml(self) -> str:
        """The configuration as the TOML text that :func:`parse_text` reads back to it."""
        c = self.to_dict()
        sections = {
            "data": {"dataset": c["dataset"], "n_test": c["n_test"], "classes": c["classes"],
                     "seed": c["data_seed"], "idx_dir": c["idx_dir"]},
            "model": {"name": c["model"], "width": c["width"], "l2": c["l2"]},
            "grid": {key: c[key] for key in ("lrs", "batch_sizes", "momenta", "n_trains",
                                             "seeds", "replacement")},
            "budget": {"kind": c["budget_kind"], "amount": c["budget_amount"]},
            "eval": {"checkpoints": c["checkpoints"], "max_batch": c["max_batch"]},
        }
        if self.optimizer != "sgd" or self.optimizer_options:
            sections["optimizer"] = {"name": self.optimizer, **c["optimizer_options"]}
        return "\n".join(f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n"
                                                  for key, value in body.items()
                                                  if value is not None)
                         for name, body in sections.items())


def _fail(key: str, message: str) -> SweepConfigError:
    return SweepConfigError(f"config key {key}: {message}")


@contextlib.contextmanager
def _keyed() -> Iterator[None]:
    """Report a validation error of a config value as :class:`SweepConfigError` on its key."""
    try:
        yield
    except ParameterRangeError as exc:
        raise _fail(exc.name, f"must be {exc.allowed} (got {exc.value!r})") from None
    except UnknownNameError as exc:
        raise _fail(exc.name, f"must be one of {', '.join(map(str, exc.choices))} "
                    f"(got {exc.value!r})") from None
    except IncompatibleChoiceError as exc:
        raise _fail(exc.names[0] if exc.names else "data", str(exc)) from None


def _check_layout(raw: Mapping[str, Any]) -> None:
    """Known sections and keys only, every required one present."""
    for section in raw:
        if section not in _SECTIONS:
            raise _fail(section, f"unknown section; known sections: {', '.join(_SECTIONS)}")
        if not isinstance(raw[section], dict):
            raise _fail(section, f"must be a table ([section]) (got {raw[section]!r})")
    for section in _REQUIRED_SECTIONS:
        if section not in raw:
            raise _fail(section, "section is missing")
    for section, keys in _SECTIONS.items():
        body = raw.get(section, {})
        for key in body:
            if key not in keys and section != "optimizer":  # see _parse_optimizer
                raise _fail(f"{section}.{key}", f"unknown key; known keys of [{section}]: "
                            f"{', '.join(keys)}")
        for key, required in keys.items():
            if required and key not in body:
                raise _fail(f"{section}.{key}", "is missing")


def parse_config(raw: Mapping[str, Any]) -> SweepConfig:
    """Validate a parsed TOML document; raises :class:`SweepConfigError` naming the key."""
    _check_layout(raw)
    data, model, grid = raw["data"], raw["model"], raw["grid"]
    budget, evaluation = raw["budget"], raw.get("eval", {})
    with _keyed():
        dataset = check_choice("data.dataset", data["dataset"], DATASET_NAMES)
        n_test = check_int("data.n_test", data.get("n_test"), 1, optional=True)
        classes = None
        if "classes" in data:
            classes = check_list("data.classes", data["classes"],
                                 lambda v: is_int(v) and v >= 0, "integer labels >= 0")
            if len(classes) < 2:
                raise ParameterRangeError("data.classes", list(classes), "at least 2 labels")
        data_seed = check_int("data.seed", data.get("seed", 0), 0)
        idx_dir = data.get("idx_dir")
        if idx_dir is not None and not isinstance(idx_dir, str):
            raise ParameterRangeError("data.idx_dir", idx_dir, "a string (a folder)")
        name = check_choice("model.name", model["name"], MODEL_NAMES)
        width = check_int("model.width", model.get("width", 64), 1) if name == "mlp" else None
        if name == "logistic" and "width" in model:
            check_int("model.width", model["width"], 1)
        l2 = check_number("model.l2", model.get("l2", 0.0), at_least=0.0)
        lrs = check_list("grid.lrs", grid["lrs"], lambda v: is_number(v) and v > 0,
                         "finite numbers > 0")
        batch_sizes = check_list("grid.batch_sizes", grid["batch_sizes"],
                                 lambda v: is_int(v) and v >= 1, "integers >= 1")
        momenta = check_list("grid.momenta", grid.get("momenta", [0.0]),
                             lambda v: is_number(v) and 0 <= v < 1, "numbers in [0, 1)")
        n_trains = check_list("grid.n_trains", grid["n_trains"],
                              lambda v: is_int(v) and v >= 2, "integers >= 2")
        seeds = check_list("grid.seeds", grid["seeds"], lambda v: is_int(v) and v >= 0,
                           "integers >= 0")
        too_big = [b for b in batch_sizes if b > min(n_trains)]
        if too_big:
            raise ParameterRangeError("grid.batch_sizes", list(batch_sizes),
                                      f"integers <= the smallest n_train ({min(n_trains)}); "
                                      f"too large: {too_big}")
        replacement = grid.get("replacement", False)
        if not isinstance(replacement, bool):
            raise ParameterRangeError("grid.replacement", replacement, "true or false")
        kind = check_choice("budget.kind", budget["kind"], BUDGETS)
        amount = check_number("budget.amount", budget["amount"], above=0.0)
        checkpoints = check_int("eval.checkpoints", evaluation.get("checkpoints", 11), 2)
        max_batch = check_int("eval.max_batch", evaluation.get("max_batch", 1024), 1)
        check_dataset_options(dataset, classes=classes, idx_dir=idx_dir, prefix="data.")
    optimizer, options = _parse_optimizer(raw.get("optimizer", {"name": "sgd"}))
    if optimizer != "sgd":
        if any(m != 0 for m in momenta):
            raise _fail("grid.momenta", f"must be [0] for optimizer {optimizer!r} (heavy ball "
                        f"applies to sgd only; got {list(momenta)})")
        if kind == "sde_time":
            raise _fail("budget.kind", f"must be epochs or updates for optimizer {optimizer!r} "
                        "(sde_time is SGD's time, updates·ε/(1 − m))")
    return SweepConfig(
        dataset=dataset, n_test=n_test, classes=classes, data_seed=data_seed, idx_dir=idx_dir,
        model=name, width=width, l2=l2, lrs=tuple(float(v) for v in lrs),
        batch_sizes=batch_sizes, momenta=tuple(float(v) for v in momenta), n_trains=n_trains,
        seeds=seeds, replacement=replacement, budget_kind=kind, budget_amount=amount,
        checkpoints=checkpoints, max_batch=max_batch, optimizer=optimizer,
        optimizer_options=options,
    )


def _parse_optimizer(section: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The [optimizer] section as (name, sorted hyper-parameters), checked by constructing
    the optimiser; errors name ``optimizer.<key>`` and the allowed values."""
    if "name" not in section:
        raise _fail("optimizer.name", "is missing")
    with _keyed():
        name = check_choice("optimizer.name", section["name"], OPTIMIZERS)
    options = {k: v for k, v in section.items() if k != "name"}
    known = [f.name for f in dataclasses.fields(OPTIMIZERS[name])]
    for key in options:
        if key not in known:
            raise _fail(f"optimizer.{key}", f"unknown key; {name} takes name"
                        + "".join(f", {k}" for k in known))
    try:
        chosen = make_optimizer(name, **options)
    except ParameterRangeError as exc:
        raise _fail(f"optimizer.{exc.name}", f"must be {exc.allowed} (got {exc.value!r})"
                    ) from None
    # canonical: the values the optimiser holds (1 and 1.0 alike), defaults left out, so that
    # one run has one id however its file spells it
    defaults = OPTIMIZERS[name]().hyperparameters()
    values = {key: value if isinstance(value, bool) else float(value)
              for key, value in chosen.hyperparameters().items()}
    return name, tuple(sorted((key, value) for key, value in values.items()
                              if value != defaults[key]))


def load_config(path: str | os.PathLike) -> tuple[SweepConfig, str]:
    """Read and validate a TOML sweep file; returns the config and the file's text."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SweepConfigError(f"cannot read config {str(path)!r}: {exc}") from None
    return parse_text(text, str(path)), text


def parse_text(text: str, source: str = "<text>") -> SweepConfig:
    """Parse and validate the TOML text of a sweep (`source` names it in errors)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepConfigError(f"config {source!r} is not valid TOML: {exc}") from None
    return parse_config(raw)
