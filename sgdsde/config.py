"""Immutable, validated run configurations: the one place scalar ranges are checked.

A :class:`RunConfig` feeds both simulators (discrete SGD and its SDE), so they cannot drift
apart; an :class:`SDEConfig` says how the SDE is integrated. Validation happens in
``__post_init__``, in plain Python, so a bad value fails before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from .errors import IncompatibleChoiceError, ParameterRangeError, UnknownNameError

SDE_MODELS = ("sme1", "sme2", "underdamped")
SOLVERS = ("euler", "heun", "spark", "general_shark", "slowrk", "sra1", "shark", "sea")
ADDITIVE_NOISE_SOLVERS = ("sra1", "shark", "sea")
STRATONOVICH_SOLVERS = ("heun", "spark", "general_shark", "slowrk", "sra1", "shark", "sea")
BROWNIAN_PATHS = ("unsafe", "grid", "tree")

BrownianKind = Literal["unsafe", "grid", "tree"]


def _check_positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterRangeError(name, value, f"an integer >= {minimum}")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise :class:`UnknownNameError` unless `value` is one of `choices`."""
    if value not in choices:
        raise UnknownNameError(name, value, choices)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Hyper-parameters shared by discrete SGD and its SDE.

    Heavy ball in the optax form ``v ← m·v + ĝ``, ``θ ← θ − ε·v`` (``optax.sgd(lr, momentum)``),
    with minibatch gradient noise of covariance Σ_B = f·C, where f = 1/B with replacement (or
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

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ParameterRangeError("lr", self.lr, "a finite number > 0")
        m = self.momentum
        if not (isinstance(m, int | float) and 0.0 <= m < 1.0):
            raise ParameterRangeError("momentum", m, "in [0, 1)")
        _check_positive_int("batch_size", self.batch_size)
        if self.n_train is not None:
            _check_positive_int("n_train", self.n_train, minimum=2)
            if self.batch_size > self.n_train:
                raise ParameterRangeError(
                    "batch_size", self.batch_size, f"<= n_train={self.n_train}"
                )
        _check_positive_int("steps", self.steps)
        _check_positive_int("paths", self.paths)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterRangeError("seed", self.seed, "an integer >= 0")
        if not self.divergence_bound > 0:
            raise ParameterRangeError("divergence_bound", self.divergence_bound, "> 0")

    @property
    def effective_lr(self) -> float:
        """ε/(1−m): the step of the first-order SME's time variable per SGD update."""
        return self.lr / (1.0 - self.momentum)


@dataclasses.dataclass(frozen=True)
class SDEConfig:
    """How an SDE model of SGD is integrated with Diffrax.

    **Arguments:**

    - `model`: ``"sme1"`` (first-order SME), ``"sme2"`` (second-order SME, m = 0 only) or
      ``"underdamped"`` (phase-space SDE for heavy ball).
    - `solver`: Diffrax solver name; ``None`` picks ShARK for additive noise and Euler
      (Itô) otherwise.
    - `substeps`: solver steps per SGD step (dt = time per SGD step / substeps).
    - `brownian`: ``"unsafe"`` (`UnsafeBrownianPath`, fast), ``"grid"`` (a counter-based path
      on the solver grid, as fast, and reproducible so SGD can be coupled to it) or ``"tree"``
      (`VirtualBrownianTree`, consistent at any resolution, slow).
    - `tree_tol_fraction`: the tree's tolerance as a fraction of dt.
    """

    model: str = "sme1"
    solver: str | None = None
    substeps: int = 4
    brownian: BrownianKind = "unsafe"
    tree_tol_fraction: float = 1.0 / 16.0

    def __post_init__(self) -> None:
        check_choice("model", self.model, SDE_MODELS)
        if self.solver is not None:
            check_choice("solver", self.solver, SOLVERS)
        _check_positive_int("substeps", self.substeps)
        check_choice("brownian", self.brownian, BROWNIAN_PATHS)
        if not 0.0 < self.tree_tol_fraction <= 1.0:
            raise ParameterRangeError("tree_tol_fraction", self.tree_tol_fraction, "in (0, 1]")

    def resolved_solver(self, additive_noise: bool) -> str:
        """The solver actually used: the explicit choice, or the default for the noise."""
        if self.solver is not None:
            return self.solver
        return "shark" if additive_noise else "euler"


def check_compatible(
    run: RunConfig, sde: SDEConfig, *, additive_noise: bool, resampled_noise: bool = False
) -> None:
    """Reject SDE choices that cannot describe this run, before any compilation.

    - The second-order SME is derived for plain SGD only (m = 0).
    - Additive-noise solvers (SRA1, ShARK, SEA) assume a constant diffusion.
    - The first- and second-order SMEs with state-dependent noise are Itô SDEs whose noise is
      not commutative in general, so Stratonovich solvers would converge to a different SDE.
      (The underdamped SDE's noise depends on θ only and drives u only: it is commutative and
      Itô = Stratonovich, so every general solver is valid there.)
    - Noise whose factor is redrawn every step (a random subset of the data) is unbiased only
      when the diffusion is evaluated once per step: Euler.
    """
    if sde.model == "sme2" and run.momentum != 0.0:
        raise IncompatibleChoiceError(
            f"model='sme2' (second-order SME) needs momentum=0, got momentum={run.momentum}; "
            "use model='sme1' or 'underdamped' for heavy ball"
        )
    solver = sde.resolved_solver(additive_noise)
    if resampled_noise and solver != "euler":
        raise IncompatibleChoiceError(
            f"solver={solver!r} evaluates the diffusion more than once per step, but this "
            "surface redraws its noise factor (a random data subset) every step; use 'euler'"
        )
    if solver in ADDITIVE_NOISE_SOLVERS and not additive_noise:
        raise IncompatibleChoiceError(
            f"solver={solver!r} needs additive (constant) noise, but this surface's gradient "
            "noise depends on θ; use 'euler' (Itô) or, for model='underdamped', 'heun'/'spark'"
        )
    if solver in STRATONOVICH_SOLVERS and not additive_noise and sde.model != "underdamped":
        raise IncompatibleChoiceError(
            f"solver={solver!r} converges to the Stratonovich solution, but model={sde.model!r} "
            "with state-dependent noise is an Itô SDE; use solver='euler'"
        )


def checked_save_steps(save_steps: object, steps: int) -> tuple[int, ...]:
    """SGD steps at which trajectories are saved: distinct integers in [0, steps], sorted.

    ``None`` means 11 evenly spaced steps from 0 to `steps`.
    """
    if save_steps is None:
        return tuple(sorted({round(i * steps / 10) for i in range(11)}))
    values = tuple(save_steps)  # type: ignore[arg-type]
    if not values or any(
        isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= steps for s in values
    ):
        raise ParameterRangeError("save_steps", values, f"non-empty integers in [0, {steps}]")
    return tuple(sorted(set(values)))
