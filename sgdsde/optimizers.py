"""The discrete optimisers, by name: each is exactly one optax constructor (docs/adaptive.md §1).

An optimiser is a frozen, validated Equinox module holding its hyper-parameters (the learning
rate ε and the heavy-ball momentum m stay on :class:`sgdsde.RunConfig`). The discrete engine
builds the optax transformation from it inside the compiled kernel, after
:meth:`Optimizer.traced` has turned the numbers into arrays, so changing a hyper-parameter
does not recompile. Each optimiser also knows how its hyper-parameters move under the
square-root scaling rule (Malladi et al. 2022; :mod:`sgdsde.rules` scales ε and B).

Updates, with ĝ_k the minibatch gradient of step k (all operations per coordinate):

- ``sgd``: v_{k+1} = m v_k + ĝ_k, θ_{k+1} = θ_k − ε v_{k+1} (``optax.sgd(ε, momentum=m)``).
- ``rmsprop``: ν_{k+1} = β ν_k + (1−β) ĝ_k², ν_0 = ν₀ (``initial_scale``),
  ν̂ = ν_{k+1}/(1−β^{k+1}) with ``bias_correction`` (else ν̂ = ν_{k+1}),
  θ_{k+1} = θ_k − ε ĝ_k/√(ν̂ + δ) (``optax.rmsprop(ε, β, δ, ν₀, eps_in_sqrt=True)``).
- ``adam``: m_{k+1} = β₁ m_k + (1−β₁) ĝ_k, ν_{k+1} = β₂ ν_k + (1−β₂) ĝ_k², m_0 = ν_0 = 0,
  m̂ = m_{k+1}/(1−β₁^{k+1}), ν̂ = ν_{k+1}/(1−β₂^{k+1}),
  θ_{k+1} = θ_k − ε m̂/(√(ν̂ + δ_r) + δ) (``optax.adam(ε, β₁, β₂, δ, δ_r)``).

Adding an optimiser is one class plus one entry of :data:`OPTIMIZERS`.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ._validation import check_choice, check_number
from .errors import ParameterRangeError


class Optimizer(eqx.Module):
    """Hyper-parameters of one optax optimiser (besides ε and m) and how to build it."""

    name: ClassVar[str]
    #: Whether RunConfig.momentum (heavy ball) applies; adaptive methods have their own.
    uses_momentum: ClassVar[bool] = False

    @abc.abstractmethod
    def transformation(self, lr: Any, momentum: Any) -> optax.GradientTransformation:
        """The optax transformation with learning rate `lr` and heavy-ball `momentum` (Python
        numbers or traced arrays)."""

    @abc.abstractmethod
    def sqrt_scaled(self, kappa: float) -> Optimizer:
        """The hyper-parameters when the batch grows κ-fold under the square-root rule."""

    def hyperparameters(self) -> dict[str, Any]:
        """The hyper-parameters by name (JSON-ready)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def describe(self, lr: float, momentum: float) -> str:
        """The optax call this optimiser is, e.g. ``optax.adam(lr=0.001, b1=0.9, ...)``."""
        arguments = {"lr": lr, **({"momentum": momentum} if self.uses_momentum else {}),
                     **self.hyperparameters()}
        return f"optax.{self.name}(" + ", ".join(f"{k}={v}" for k, v in arguments.items()) + ")"

    def traced(self, dtype: Any) -> Optimizer:
        """The same optimiser with its numbers as arrays of `dtype` (traced, not static, under
        ``jit``; flags stay static)."""
        return jax.tree.map(lambda value: jnp.asarray(value, dtype), self)


def check_decay(name: str, value: object) -> float:
    """An EMA decay β as a float; ParameterRangeError unless in [0, 1)."""
    return check_number(name, value, at_least=0.0, below=1.0)


def sqrt_rule_decay(name: str, value: float, kappa: float) -> float:
    """β' = 1 − κ(1 − β), the square-root rule's decay; ParameterRangeError naming κ when β'
    would be negative (κ must be ≤ 1/(1 − β))."""
    bound = 1.0 / (1.0 - value)
    if kappa > bound * (1.0 + 1e-12):
        raise ParameterRangeError(
            "kappa", kappa, f"<= 1/(1 - {name}) = {bound:.6g} so that the square-root rule's "
            f"{name}' = 1 - kappa*(1 - {name}) stays in [0, 1) ({name}={value})")
    return max(0.0, 1.0 - kappa * (1.0 - value))


class SGD(Optimizer):
    """``optax.sgd(ε, momentum=m)``: heavy ball in the optax form (m from RunConfig)."""

    name: ClassVar[str] = "sgd"
    uses_momentum: ClassVar[bool] = True

    def transformation(self, lr, momentum):
        """``optax.sgd(lr, momentum=momentum)``."""
        return optax.sgd(lr, momentum=momentum)

    def sqrt_scaled(self, kappa):
        """No hyper-parameters to scale (m is kept)."""
        return self


class RMSprop(Optimizer):
    """``optax.rmsprop(ε, decay=β, eps=δ, initial_scale=ν₀, eps_in_sqrt=True,
    bias_correction=...)`` (δ inside the root, optax's default).

    optax's defaults (ν₀ = 0, no bias correction) make a first step of size ε/√(1−β) and have
    no SDE limit (docs/adaptive.md §4); the RMSprop SDE needs ν₀ > 0 or bias correction.
    """

    name: ClassVar[str] = "rmsprop"
    decay: float = 0.9
    eps: float = 1e-8
    initial_scale: float = 0.0
    bias_correction: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        check_decay("decay", self.decay)
        check_number("eps", self.eps, at_least=0.0)
        check_number("initial_scale", self.initial_scale, at_least=0.0)
        if not isinstance(self.bias_correction, bool):
            raise ParameterRangeError("bias_correction", self.bias_correction, "True or False")

    def transformation(self, lr, momentum):
        """``optax.rmsprop`` with these hyper-parameters (`momentum` is unused)."""
        return optax.rmsprop(lr, decay=self.decay, eps=self.eps,
                             initial_scale=self.initial_scale, eps_in_sqrt=True,
                             bias_correction=self.bias_correction)

    def sqrt_scaled(self, kappa):
        """β → 1 − κ(1−β); δ and ν₀ → /κ (both sit inside the root next to ν ∝ 1/B)."""
        return RMSprop(decay=sqrt_rule_decay("decay", self.decay, kappa),
                       eps=self.eps / kappa, initial_scale=self.initial_scale / kappa,
                       bias_correction=self.bias_correction)


class Adam(Optimizer):
    """``optax.adam(ε, b1=β₁, b2=β₂, eps=δ, eps_root=δ_r)`` (zero initial moments, bias
    correction of both)."""

    name: ClassVar[str] = "adam"
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    eps_root: float = 0.0

    def __check_init__(self):
        check_decay("b1", self.b1)
        check_decay("b2", self.b2)
        check_number("eps", self.eps, at_least=0.0)
        check_number("eps_root", self.eps_root, at_least=0.0)

    def transformation(self, lr, momentum):
        """``optax.adam`` with these hyper-parameters (`momentum` is unused)."""
        return optax.adam(lr, b1=self.b1, b2=self.b2, eps=self.eps, eps_root=self.eps_root)

    def sqrt_scaled(self, kappa):
        """β_i → 1 − κ(1−β_i), δ → δ/√κ (outside the root), δ_r → δ_r/κ (inside)."""
        return Adam(b1=sqrt_rule_decay("b1", self.b1, kappa),
                    b2=sqrt_rule_decay("b2", self.b2, kappa),
                    eps=self.eps / math.sqrt(kappa), eps_root=self.eps_root / kappa)


#: Optimiser name (as in configs, sweeps and the CLI) → class.
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, RMSprop, Adam)}


def make_optimizer(spec: str | Optimizer, **hyperparameters: Any) -> Optimizer:
    """The optimiser `spec` (a registered name, with `hyperparameters`, or an object, which
    passes through); unknown names and keys fail naming the choices."""
    if isinstance(spec, Optimizer):
        return spec
    cls = OPTIMIZERS[check_choice("optimizer", spec, OPTIMIZERS)]
    known = tuple(f.name for f in dataclasses.fields(cls))
    for key in hyperparameters:
        check_choice(f"{spec} hyper-parameter", key, known or ("(none)",))
    return cls(**hyperparameters)


__all__ = ["OPTIMIZERS", "SGD", "Adam", "Optimizer", "RMSprop", "check_decay",
           "make_optimizer"]
