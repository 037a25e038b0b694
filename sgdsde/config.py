"""Immutable, validated run configurations and the quantities derived from them.

A :class:`RunConfig` feeds both simulators (discrete SGD and its SDE), so they cannot drift
apart, and it is the one owner of what follows from (ε, m, B, N): the minibatch noise factor,
the noise scale g and the effective learning rate (each computed by :mod:`sgdsde.theory`). An
:class:`SDEConfig` says how the SDE is integrated. Both validate in ``__post_init__``, in plain
Python (:mod:`sgdsde._validation`), so a bad value fails before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from . import theory
from ._validation import check_choice, check_int, check_number
from .errors import IncompatibleChoiceError, ParameterRangeError
from .optimizers import SGD, Optimizer, make_optimizer
from .sde_models import SDE_MODELS, SDEModel, sde_model
from .solvers import SOLVERS, default_solver

BROWNIAN_PATHS = ("unsafe", "grid", "tree")
BUDGETS = ("epochs", "updates", "sde_time")

BrownianKind = Literal["unsafe", "grid", "tree"]
BudgetKind = Literal["epochs", "updates", "sde_time"]


def check_lr(lr: object) -> float:
    """ε as a float; ParameterRangeError unless a finite number > 0."""
    return check_number("lr", lr, above=0.0)


def check_momentum(momentum: object) -> float:
    """m as a float; ParameterRangeError unless in [0, 1)."""
    return check_number("momentum", momentum, at_least=0.0, below=1.0)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Hyper-parameters shared by discrete SGD and its SDE.

    Heavy ball in the optax form ``v ← m·v + ĝ``, ``θ ← θ − ε·v`` (``optax.sgd(lr, momentum)``),
    or another optax optimiser (`optimizer`, :mod:`sgdsde.optimizers`), with minibatch
    gradient noise of covariance Σ_B = f·C, where f = 1/B with replacement (or
    infinite data, ``n_train=None``) and f = (1/B)(N−B)/(N−1) without replacement.

    **Arguments:**

    - `lr`: learning rate ε > 0.
    - `momentum`: heavy-ball momentum m in [0, 1).
    - `batch_size`: B ≥ 1 (and B ≤ N when `n_train` is given).
    - `n_train`: training-set size N ≥ 2, or ``None`` for infinite data.
    - `replacement`: sample minibatches with replacement (default: without, shuffled epochs).
    - `steps`: number of SGD updates ≥ 1.
    - `paths`: ensemble size P ≥ 1 (independent runs).
    - `seed`: integer seed; path i uses ``fold_in(key(seed), i)``.
    - `divergence_bound`: a path is diverged once a saved |θ_i| exceeds this or is NaN/inf.
    - `optimizer`: ``"sgd"`` (default), ``"rmsprop"``, ``"adam"`` (optax defaults) or an
      :class:`~sgdsde.optimizers.Optimizer` with its hyper-parameters; `momentum` is heavy
      ball and applies to ``sgd`` only.
    """

    lr: float
    momentum: float = 0.0
    batch_size: int = 1
    n_train: int | None = None
    replacement: bool = False
    steps: int = 1000
    paths: int = 1024
    seed: int = 0
    divergence_bound: float = 1e8
    optimizer: Optimizer = SGD()

    def __post_init__(self) -> None:
        check_lr(self.lr)
        check_momentum(self.momentum)
        object.__setattr__(self, "optimizer", make_optimizer(self.optimizer))
        if self.momentum != 0.0 and not self.optimizer.uses_momentum:
            raise IncompatibleChoiceError(
                f"momentum={self.momentum} is heavy ball, which applies to optimizer='sgd' "
                f"only; optimizer={self.optimizer.name!r} needs momentum=0 (its own moments "
                "are its hyper-parameters)", names=("momentum", "optimizer"))
        check_int("batch_size", self.batch_size)
        if self.n_train is not None:
            check_int("n_train", self.n_train, minimum=2)
            if self.batch_size > self.n_train:
                raise ParameterRangeError(
                    "batch_size", self.batch_size, f"<= n_train={self.n_train}"
                )
        check_int("steps", self.steps)
        check_int("paths", self.paths)
        check_int("seed", self.seed, minimum=0)
        check_number("divergence_bound", self.divergence_bound, above=0.0)

    @property
    def effective_lr(self) -> float:
        """ε/(1−m): the step of the first-order SME's time variable per SGD update."""
        return theory.effective_lr(self.lr, self.momentum)

    @property
    def noise_factor(self) -> float:
        """f in Σ_B = f·C (:func:`sgdsde.theory.minibatch_noise_factor`)."""
        return theory.minibatch_noise_factor(self.batch_size, self.n_train, self.replacement)

    @property
    def noise_scale(self) -> float | None:
        """g = ε(N/B − 1)/(1 − m) (:func:`sgdsde.theory.noise_scale`); None for infinite data."""
        if self.n_train is None:
            return None
        return theory.noise_scale(self.lr, self.batch_size, self.n_train, self.momentum)


@dataclasses.dataclass(frozen=True)
class SDEConfig:
    """How an SDE model of SGD is integrated with Diffrax.

    **Arguments:**

    - `model`: a registered name (:data:`sgdsde.sde_models.SDE_MODELS`: ``"sme1"`` first-order
      SME, ``"sme2"`` second-order SME for m = 0, ``"underdamped"`` phase-space SDE for heavy
      ball) or an :class:`sgdsde.sde_models.SDEModel` object.
    - `solver`: a registered Diffrax solver name (:data:`sgdsde.solvers.SOLVERS`); ``None``
      picks ShARK for additive noise and Euler (Itô) otherwise.
    - `substeps`: solver steps per SGD step (dt = time per SGD step / substeps).
    - `brownian`: ``"unsafe"`` (`UnsafeBrownianPath`, fast), ``"grid"`` (a counter-based path
      on the solver grid, as fast, and reproducible so SGD can be coupled to it) or ``"tree"``
      (`VirtualBrownianTree`, consistent at any resolution, slow).
    - `tree_tol_fraction`: the tree's tolerance as a fraction of dt.
    """

    model: str | SDEModel = "sme1"
    solver: str | None = None
    substeps: int = 4
    brownian: BrownianKind = "unsafe"
    tree_tol_fraction: float = 1.0 / 16.0

    def __post_init__(self) -> None:
        if not isinstance(self.model, SDEModel):
            check_choice("model", self.model, SDE_MODELS)
        if self.solver is not None:
            check_choice("solver", self.solver, SOLVERS)
        check_int("substeps", self.substeps)
        check_choice("brownian", self.brownian, BROWNIAN_PATHS)
        if not 0.0 < self.tree_tol_fraction <= 1.0:
            raise ParameterRangeError("tree_tol_fraction", self.tree_tol_fraction, "in (0, 1]")

    @property
    def sde_model(self) -> SDEModel:
        """The model object (:func:`sgdsde.sde_models.sde_model`)."""
        return sde_model(self.model)

    @property
    def model_name(self) -> str:
        """The model's registered name."""
        return self.sde_model.name

    def resolved_solver(self, additive_noise: bool) -> str:
        """The solver actually used: the explicit choice, or the default for the noise."""
        return self.solver if self.solver is not None else default_solver(additive_noise)


def check_surface_fits_run(surface: Any, run: RunConfig) -> None:
    """A surface built on a dataset fixes N (``surface.n_train``): the run must use the same N."""
    if surface.n_train is not None and run.n_train != surface.n_train:
        raise IncompatibleChoiceError(
            f"n_train={run.n_train} does not match the surface's training set of "
            f"{surface.n_train} examples; set n_train={surface.n_train}"
        )


def budget_steps(
    kind: str, amount: float, *, lr: float, momentum: float, batch_size: int, n_train: int
) -> int:
    """Number of SGD updates of a training budget: `amount` epochs (⌊N/B⌋ updates each),
    updates, or SDE time t = updates·ε/(1−m) (docs/theory.md §4)."""
    check_choice("budget", kind, BUDGETS)
    check_number("budget_amount", amount, above=0.0)
    if kind == "epochs":
        steps = amount * (check_int("n_train", n_train) // check_int("batch_size", batch_size))
    elif kind == "updates":
        steps = amount
    else:
        steps = amount / theory.effective_lr(check_lr(lr), check_momentum(momentum))
    return max(1, math.ceil(steps))


def checkpoint_steps(steps: int, count: int) -> tuple[int, ...]:
    """`count` ≥ 2 evenly spaced SGD steps from 0 to `steps` (fewer when steps < count − 1)."""
    check_int("checkpoints", count, minimum=2)
    return tuple(sorted({round(i * steps / (count - 1)) for i in range(count)}))


def checked_save_steps(save_steps: object, steps: int) -> tuple[int, ...]:
    """SGD steps at which trajectories are saved: distinct integers in [0, steps], sorted.

    ``None`` means 11 evenly spaced steps from 0 to `steps`.
    """
    if save_steps is None:
        return checkpoint_steps(steps, 11)
    values = tuple(save_steps)  # type: ignore[arg-type]
    if not values or any(
        isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= steps for s in values
    ):
        raise ParameterRangeError("save_steps", values, f"non-empty integers in [0, {steps}]")
    return tuple(sorted(set(values)))


__all__ = [
    "BROWNIAN_PATHS", "BUDGETS", "BrownianKind", "BudgetKind", "RunConfig", "SDEConfig",
    "budget_steps", "check_lr", "check_momentum", "check_surface_fits_run",
    "checked_save_steps",
    "checkpoint_steps",
]
