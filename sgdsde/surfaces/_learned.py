"""A learned surface: a classifier on a dataset, with real minibatches and exact noise."""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float, Int, Key, NoiseVector, Scalar, Vector
from ..errors import ParameterRangeError
from ..learning import Dataset, Unflatten, accuracy, flatten_model, make_model, per_example_loss
from ..results import EnsembleRun
from ..surface import Surface

#: The metrics of a classifier at θ: train/test cross-entropy (mean, no L2) and accuracy.
METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


class LearnedSurface(Surface):
    """L(θ) = (1/N) Σ_i ℓ_i(θ) + (λ/2)‖θ‖²: mean cross-entropy of a model on N training
    examples plus an optional L2 term, on the flat parameters θ of the model.

    - Minibatches are real: without replacement (default) each epoch is a fresh permutation of
      the N examples drawn from the path's key, cut into ⌊N/B⌋ batches (the last partial
      batch dropped); with replacement each step draws B indices uniformly. Either way
      Cov ĝ = Σ_B exactly (docs/theory.md §1).
    - The SDE noise is exact (docs/theory.md §2): D(θ)z = (1/√N)·G̃ᵀz for z ∈ R^N, computed as ONE
      vector–Jacobian product of the per-example losses with cotangent (z − z̄)/√N, never
      materialising the N×d gradient matrix G. The L2 term is deterministic: it adds no noise.
    - With `noise_subset` = M < N (for very large N) each SDE step draws a fresh uniform subset
      S of M examples and uses D_S z = c·(1/√M)·G̃_Sᵀz, z ∈ R^M, G̃_S centred on the subset's
      mean and c² = (M/(M−1))·((N−1)/N), so that E_S[D_S D_Sᵀ] = C(θ) exactly (the subset
      covariance is a without-replacement sample covariance). Unbiased, not exact: say so.
    """

    x_train: Float[Array, "n p"]
    y_train: Int[Array, " n"]
    x_test: Float[Array, "m p"]
    y_test: Int[Array, " m"]
    theta_init: Vector
    l2: float
    unflatten: Unflatten = eqx.field(static=True)
    noise_subset: int | None = eqx.field(static=True, default=None)

    additive_noise: ClassVar[bool] = False
    gaussian_noise: ClassVar[bool] = False

    @property
    def dim(self) -> int:
        """d, the number of flat model parameters."""
        return self.theta_init.shape[0]

    @property
    def noise_dim(self) -> int:
        """r = N (exact noise), or M = `noise_subset` (random-subset noise)."""
        return self.x_train.shape[0] if self.noise_subset is None else self.noise_subset

    @property
    def resampled_noise(self) -> bool:
        """True with `noise_subset`: a fresh subset S, so a fresh D_S, per solver step."""
        return self.noise_subset is not None

    @property
    def n_train(self) -> int:
        """N, the number of training examples the surface is built on."""
        return self.x_train.shape[0]

    def per_example_losses(self, theta: Vector, x: Float[Array, "n p"], y: Int[Array, " n"]):
        """ℓ_i(θ) for each example of (x, y), without the L2 term."""
        return per_example_loss(self.unflatten(theta), x, y)

    def parameters(self, theta: Vector) -> Any:
        """θ as the network's parameter pytree (see :meth:`Surface.parameters`)."""
        return self.unflatten.parameters(theta)

    def flatten(self, parameters: Any) -> Vector:
        """θ from the network's parameter pytree."""
        return self.unflatten.flatten(parameters)

    def loss(self, theta: Vector) -> Scalar:
        """L(θ) = (1/N) Σ_i ℓ_i(θ) + (λ/2)‖θ‖² (mean cross-entropy plus the L2 term)."""
        data = self.per_example_losses(theta, self.x_train, self.y_train).mean()
        return data + 0.5 * self.l2 * jnp.sum(theta**2)

    def per_example_gradients(self, theta: Vector) -> Float[Array, "n d"]:
        """G with rows ∇ℓ_i(θ) (explicit N×d: for small problems and checks only)."""

        def single(x, y):
            return jax.grad(lambda t: self.per_example_losses(t, x[None], y[None])[0])(theta)

        return jax.vmap(single)(self.x_train, self.y_train)

    def noise_apply(self, theta: Vector, z: NoiseVector, key: Key | None = None) -> Vector:
        """D(θ)z = (1/√N)·G̃ᵀz, one VJP of the per-example losses with cotangent (z − z̄)/√N; with
        `noise_subset` D_S z = c·(1/√M)·G̃_Sᵀz on a subset S drawn from `key` (class docstring)."""
        n, m = self.n_train, self.noise_dim
        if self.noise_subset is None:
            x, y, scale = self.x_train, self.y_train, 1.0
        else:
            index = jax.random.choice(key, n, (m,), replace=False)
            x, y = self.x_train[index], self.y_train[index]
            scale = ((m / (m - 1)) * ((n - 1) / n)) ** 0.5
        _, pullback = jax.vjp(lambda t: self.per_example_losses(t, x, y), theta)
        (noise,) = pullback(scale * (z - z.mean()) / jnp.sqrt(jnp.asarray(m, z.dtype)))
        return noise

    def sampler_state(self) -> Int[Array, " n"]:
        """The current epoch's order of the examples (replaced at each epoch's first step)."""
        return jnp.arange(self.n_train)

    def minibatch_gradient(
        self,
        theta: Vector,
        key: Key,
        step: jax.Array,
        state: Int[Array, " n"],
        *,
        batch_size: int,
        n_train: int | None,
        replacement: bool,
    ) -> tuple[Any, Int[Array, " n"]]:
        """Gradient of the mean loss over a real minibatch of `batch_size` examples, at and in
        the parameter pytree of :meth:`parameters`.

        Without replacement the epoch's permutation (drawn from ``fold_in(key, epoch)``) is
        carried in `state` and redrawn only at the first step of each epoch; the branch depends
        on the shared step counter alone, so under vmap it stays a real branch.
        """
        del n_train
        n = self.n_train
        if replacement:
            index = jax.random.randint(jax.random.fold_in(key, step), (batch_size,), 0, n)
            order = state
        else:
            per_epoch = n // batch_size
            epoch, position = step // per_epoch, step % per_epoch
            order = jax.lax.cond(
                position == 0,
                lambda: jax.random.permutation(jax.random.fold_in(key, epoch), n),
                lambda: state,
            )
            index = jax.lax.dynamic_slice(order, (position * batch_size,), (batch_size,))

        def batch_loss(parameters: Any) -> Scalar:
            model = self.unflatten.model(parameters)
            data = per_example_loss(model, self.x_train[index], self.y_train[index]).mean()
            penalty = sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(parameters))
            return data + 0.5 * self.l2 * penalty

        return jax.grad(batch_loss)(theta), order

    def initial_point(self) -> Vector:
        """θ₀ = the model's flat parameters at Equinox's default initialisation."""
        return self.theta_init

    def ensemble_metrics(self, run: EnsembleRun) -> dict[str, np.ndarray]:
        """Every metric of :meth:`metrics` (:data:`METRICS`) for every (path, save) of an
        ensemble on this surface, shape (P', S); diverged paths are dropped (P' ≤ P)."""
        finite = run.theta[~np.asarray(run.diverged)]
        return {name: np.asarray(value) for name, value in self.metrics_of(finite).items()}

    def metrics_of(self, thetas: Float[Array, "*batch d"]) -> dict[str, Float[Array, "*batch"]]:
        """:meth:`metrics` at every θ of `thetas` (any leading shape), in one compiled call: on
        a CPU one θ after another (``lax.map``: each evaluation a plain matrix product over the
        data, about five times faster there than the batched products of a ``vmap``); on an
        accelerator all at once (``vmap``, which also keeps a run axis sharded over devices)."""
        return _metrics_of(self, thetas)

    def metrics(self, theta: Vector) -> dict[str, Scalar]:
        """Train/test cross-entropy (mean, no L2) and accuracy at θ."""
        model = self.unflatten(theta)
        return {
            "train_loss": per_example_loss(model, self.x_train, self.y_train).mean(),
            "train_accuracy": accuracy(model, self.x_train, self.y_train),
            "test_loss": per_example_loss(model, self.x_test, self.y_test).mean(),
            "test_accuracy": accuracy(model, self.x_test, self.y_test),
        }


@eqx.filter_jit
def _metrics_of(surface: LearnedSurface, thetas: Float[Array, "*batch d"]
                ) -> dict[str, Float[Array, "*batch"]]:
    flat = thetas.reshape(-1, thetas.shape[-1])
    if jax.default_backend() == "cpu":
        values = jax.lax.map(surface.metrics, flat)
    else:
        values = jax.vmap(surface.metrics)(flat)
    return {name: value.reshape(thetas.shape[:-1]) for name, value in values.items()}


@eqx.filter_jit
def _initial_parameters(model: str, n_features: int, n_classes: int, width: int, binary: bool,
                        dtype: jnp.dtype, key: Key) -> tuple[Vector, Unflatten]:
    """θ₀ and its unflatten map: Equinox's default initialisation, in one compiled call (the
    same numbers as eager initialisation, without a small kernel per parameter shape)."""
    network = make_model(model, n_features, n_classes, width=width, binary=binary,
                         dtype=dtype, key=key)
    return flatten_model(network)


def learned_surface(
    dataset: Dataset,
    model: str = "mlp",
    *,
    width: int = 800,
    l2: float = 0.0,
    seed: int = 0,
    dtype: jnp.dtype | str = jnp.float32,
    noise_subset: int | None = None,
) -> LearnedSurface:
    """A :class:`LearnedSurface` for `model` ("logistic" or "mlp") on `dataset`, initialised
    with Equinox's default initialisation from `seed`; a 2-class dataset with
    ``model="logistic"`` uses the binary (single-logit) head. `noise_subset` = M selects
    the unbiased random-subset SDE noise (2 ≤ M < N)."""
    if not l2 >= 0:
        raise ParameterRangeError("l2", l2, ">= 0")
    if noise_subset is not None and not 2 <= noise_subset < dataset.n_train:
        raise ParameterRangeError(
            "noise_subset", noise_subset, f"an integer in [2, n_train={dataset.n_train})"
        )
    binary = model == "logistic" and dataset.n_classes == 2
    theta, unflatten = _initial_parameters(model, dataset.n_features, dataset.n_classes, width,
                                           binary, jnp.dtype(dtype), jax.random.key(seed))
    return LearnedSurface(
        x_train=jnp.asarray(dataset.x_train, dtype),
        y_train=jnp.asarray(dataset.y_train),
        x_test=jnp.asarray(dataset.x_test, dtype),
        y_test=jnp.asarray(dataset.y_test),
        theta_init=theta,
        l2=float(l2),
        unflatten=unflatten,
        noise_subset=noise_subset,
    )
