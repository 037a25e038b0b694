"""Classifiers for learned surfaces: logistic regression and a one-hidden-layer ReLU MLP.

Models are Equinox modules acting on one example ``x`` of shape ``(p,)`` and returning logits:
``(k,)`` for a multinomial (softmax) head, a scalar for a binary (sigmoid, single-logit) head.
Batched helpers (:func:`predict_logits`, :func:`per_example_loss`, :func:`accuracy`) vmap over
the leading axis. Surfaces work on a flat parameter vector θ ∈ R^d through :func:`flatten_model`.

Loss convention (docs/theory.md §1): ``per_example_loss`` returns ℓ_i; the caller forms the mean
loss L(θ) = (1/N) Σ_i ℓ_i(θ) and adds any L2 penalty (λ/2)‖θ‖² itself.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._types import Array, Float, Int, Key, Vector
from .._validation import check_choice, check_int
from ..errors import IncompatibleChoiceError

MODEL_NAMES = ("logistic", "mlp")


class LogisticRegression(eqx.Module):
    """Linear classifier z = W x + b.

    Multinomial: k logits, softmax cross-entropy; (k·p + k) parameters. Binary: one logit,
    sigmoid cross-entropy, p weights + 1 bias (p + 1 parameters, as in Smith & Le 2018 §3).
    Initialised like ``eqx.nn.Linear``: uniform on ±1/√p.
    """

    linear: eqx.nn.Linear

    def __init__(self, n_features: int, n_classes: int, *, binary: bool = False, dtype=None,
                 key: Key):
        """**Arguments:**

        - `n_features`: the input size p.
        - `n_classes`: the number of classes k (must be 2 when `binary`).
        - `binary`: one logit with a sigmoid instead of k softmax logits.
        - `dtype`: parameter dtype (Equinox default: float32, float64 in x64 mode).
        - `key`: a `jax.random` key for the initialisation.
        """
        out = "scalar" if binary else n_classes
        self.linear = eqx.nn.Linear(n_features, out, dtype=dtype, key=key)

    @property
    def binary(self) -> bool:
        """Whether the head is a single sigmoid logit."""
        return self.linear.out_features == "scalar"

    def __call__(self, x: Float[Array, " p"]) -> Float[Array, "*k"]:
        """**Returns:** the logits of one example: shape ``(k,)``, or ``()`` when binary."""
        return self.linear(x)


class MLP(eqx.Module):
    """One hidden ReLU layer: z = W₂ relu(W₁ x + b₁) + b₂ (Smith & Le 2018: 784 → 800 → 10).

    Parameter count p·w + w + w·k + k (w·1 + 1 for the output when binary). Initialised like
    ``eqx.nn.Linear``: uniform on ±1/√fan_in per layer.
    """

    hidden: eqx.nn.Linear
    output: eqx.nn.Linear

    def __init__(self, n_features: int, n_classes: int, *, width: int = 800,
                 binary: bool = False, dtype=None, key: Key):
        """**Arguments:**

        - `n_features`: the input size p.
        - `n_classes`: the number of classes k (must be 2 when `binary`).
        - `width`: the hidden width w.
        - `binary`: one logit with a sigmoid instead of k softmax logits.
        - `dtype`: parameter dtype (Equinox default: float32, float64 in x64 mode).
        - `key`: a `jax.random` key for the initialisation.
        """
        hkey, okey = jax.random.split(key)
        out = "scalar" if binary else n_classes
        self.hidden = eqx.nn.Linear(n_features, width, dtype=dtype, key=hkey)
        self.output = eqx.nn.Linear(width, out, dtype=dtype, key=okey)

    @property
    def binary(self) -> bool:
        """Whether the head is a single sigmoid logit."""
        return self.output.out_features == "scalar"

    def __call__(self, x: Float[Array, " p"]) -> Float[Array, "*k"]:
        """**Returns:** the logits of one example: shape ``(k,)``, or ``()`` when binary."""
        return self.output(jax.nn.relu(self.hidden(x)))


Classifier = LogisticRegression | MLP


def make_model(name: str, n_features: int, n_classes: int, *, width: int = 800,
               binary: bool = False, dtype=None, key: Key) -> Classifier:
    """Build ``"logistic"`` (:class:`LogisticRegression`) or ``"mlp"`` (:class:`MLP`).

    `width` is used by the MLP only. Raises before building: UnknownNameError for an unknown
    `name`, ParameterRangeError for sizes out of range, IncompatibleChoiceError for `binary`
    with `n_classes` ≠ 2.
    """
    check_choice("name", name, MODEL_NAMES)
    check_int("n_features", n_features, 1)
    check_int("n_classes", n_classes, 2)
    check_int("width", width, 1)
    if binary and n_classes != 2:
        raise IncompatibleChoiceError(
            f"binary=True needs n_classes=2 (a single sigmoid logit), got n_classes={n_classes}"
        )
    if name == "logistic":
        return LogisticRegression(n_features, n_classes, binary=binary, dtype=dtype, key=key)
    return MLP(n_features, n_classes, width=width, binary=binary, dtype=dtype, key=key)


def predict_logits(model: Classifier, x: Float[Array, "n p"]) -> Float[Array, " n *k"]:
    """Logits of a batch: ``(n, k)``, or ``(n,)`` for a binary head."""
    return jax.vmap(model)(x)


def per_example_loss(model: Classifier, x: Float[Array, "n p"],
                     y: Int[Array, " n"]) -> Float[Array, " n"]:
    """Cross-entropy ℓ_i = −ln P(y_i | x_i) of each example (natural log).

    Softmax head: ℓ = logsumexp(z) − z_y. Binary head: ℓ = softplus(z) − y·z, with
    P(y = 1) = sigmoid(z). Labels are integers in 0..k−1.
    """
    z = predict_logits(model, x)
    if model.binary:
        return jax.nn.softplus(z) - y.astype(z.dtype) * z
    return jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, y[:, None], axis=-1)[:, 0]


def accuracy(model: Classifier, x: Float[Array, "n p"], y: Int[Array, " n"]) -> Float[Array, ""]:
    """Fraction of examples whose predicted class (argmax, or z > 0 when binary) equals y."""
    z = predict_logits(model, x)
    predicted = (z > 0) if model.binary else jnp.argmax(z, axis=-1)
    return jnp.mean(predicted.astype(y.dtype) == y)


@dataclasses.dataclass(frozen=True)
class Unflatten:
    """θ ↦ model: the inverse of :func:`flatten_model`, as a hashable value.

    It holds the structure (treedef, shapes, dtypes and the model's non-array part) rather than
    a closure, so two surfaces built on models of the same architecture compare equal as
    static data and share their compiled kernels (a closure would force a recompilation for
    every new surface).
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]
    static: Any

    def __call__(self, flat: Vector) -> eqx.Module:
        return self.model(self.parameters(flat))

    def parameters(self, flat: Vector) -> Any:
        """The model's floating-point arrays as their pytree (the model without its static
        part), cut from θ."""
        leaves, offset = [], 0
        for shape, dtype in zip(self.shapes, self.dtypes, strict=True):
            size = math.prod(shape)
            leaves.append(flat[offset:offset + size].reshape(shape).astype(dtype))
            offset += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def model(self, parameters: Any) -> eqx.Module:
        """The model with these parameter arrays (the pytree of :meth:`parameters`)."""
        return eqx.combine(parameters, self.static)

    def flatten(self, parameters: Any) -> Vector:
        """θ from the pytree of :meth:`parameters`: its leaves raveled and concatenated in
        ``ravel_pytree``'s order (the inverse of :meth:`parameters`)."""
        return jnp.concatenate([leaf.ravel() for leaf in jax.tree_util.tree_leaves(parameters)])


def flatten_model(model: eqx.Module) -> tuple[Vector, Unflatten]:
    """Split a model into a flat vector θ of its floating-point arrays and the inverse map.

    θ is the ``ravel_pytree`` concatenation of ``eqx.partition(model, eqx.is_inexact_array)``;
    ``unflatten(θ)`` rebuilds a model of the same structure (jit- and grad-compatible).
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    theta, _ = ravel_pytree(params)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    unflatten = Unflatten(
        treedef=treedef,
        shapes=tuple(tuple(leaf.shape) for leaf in leaves),
        dtypes=tuple(str(leaf.dtype) for leaf in leaves),
        static=static,
    )
    return theta, unflatten
