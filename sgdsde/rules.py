"""Batch-size scaling rules: how ε, the optimiser's hyper-parameters and the number of updates
change when the batch grows κ-fold at a fixed number of epochs (docs/adaptive.md §5).

- ``linear`` (Goyal et al. 2017; SGD's invariance, docs/theory.md §4): B → κB, ε → κε,
  every other hyper-parameter kept.
- ``sqrt`` (Malladi et al. 2022): B → κB, ε → √κ·ε, each decay β → 1 − κ(1 − β), Adam's δ →
  δ/√κ, a constant inside a square root (RMSprop's δ and ν₀, Adam's δ_r) → /κ. It keeps
  every coefficient of the adaptive SDEs (σ₀ = ε√f, c = (1−β)/ε², ε·δ, ε²·δ, ν₀/f) and the
  SDE time of an epoch fixed, so the whole family approximates one SDE.

Both rules divide the number of updates by κ (same epochs).
"""

from __future__ import annotations

import dataclasses
import math

from ._validation import check_choice, check_number
from .config import RunConfig
from .errors import ParameterRangeError

RULES = ("linear", "sqrt")


def check_kappa(kappa: object, batch_size: int, n_train: int | None) -> float:
    """κ as a float; ParameterRangeError unless κ ≥ 1, κB an integer and κB ≤ N."""
    value = check_number("kappa", kappa, at_least=1.0)
    scaled = value * batch_size
    if abs(scaled - round(scaled)) > 1e-9 * scaled:
        raise ParameterRangeError("kappa", kappa,
                                  f"such that kappa*B is an integer (B={batch_size})")
    if n_train is not None and round(scaled) > n_train:
        raise ParameterRangeError(
            "kappa", kappa, f"<= n_train/B = {n_train / batch_size:g} (B={batch_size}, "
            f"n_train={n_train}): the scaled batch kappa*B cannot exceed the training set")
    return value


def scaled_run(run: RunConfig, rule: str, kappa: float) -> RunConfig:
    """`run` with its batch grown κ-fold under `rule` (module docstring), the same seed and
    paths, and ⌈steps/κ⌉ updates (the same number of epochs when κ divides steps).

    Raises before anything is compiled when κ < 1, κB > N, or a decay would turn negative
    (the square-root rule needs κ ≤ 1/(1 − β) for every β)."""
    check_choice("rule", rule, RULES)
    factor = check_kappa(kappa, run.batch_size, run.n_train)
    if rule == "linear":
        lr, optimizer = run.lr * factor, run.optimizer
    else:
        lr, optimizer = run.lr * math.sqrt(factor), run.optimizer.sqrt_scaled(factor)
    return dataclasses.replace(run, lr=lr, optimizer=optimizer,
                               batch_size=round(run.batch_size * factor),
                               steps=max(1, math.ceil(run.steps / factor - 1e-9)))


__all__ = ["RULES", "check_kappa", "scaled_run"]
