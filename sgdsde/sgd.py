"""The discrete engine: ensembles of heavy-ball SGD, exactly as ``optax.sgd(lr, momentum)``,
or of the run's other optax optimiser (RMSprop, Adam; :mod:`sgdsde.optimizers`).

Update (optax convention, docs/theory.md §1): v_{k+1} = m·v_k + ĝ_k, θ_{k+1} = θ_k − ε·v_{k+1},
v_0 = 0, with ĝ_k the surface's minibatch gradient (the adaptive updates: docs/adaptive.md
§1). P independent paths run in one ``jit(vmap(scan))``; trajectories are saved at requested
steps and a path that produces a NaN/inf is flagged as diverged. Between saves the loop carries
θ in the surface's working form (:meth:`~sgdsde.surface.Surface.parameters`: a network's
parameter pytree), flattened only where it is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._types import Array, Float, Key, Steps, Trajectories, Vector
from .brownian import BrownianSpec, Stream, path_keys
from .config import RunConfig, check_surface_fits_run, checked_save_steps
from .errors import IncompatibleChoiceError
from .optimizers import SGD, Optimizer
from .results import EnsembleRun, diverged_paths, provenance
from .surface import Surface
from .theory import minibatch_noise_factor

#: The kernel's optimiser when none is given: heavy-ball ``optax.sgd``.
DEFAULT_OPTIMIZER = SGD()


def simulate_sgd(
    surface: Surface,
    run: RunConfig,
    *,
    save_steps: object = None,
    theta0: Vector | None = None,
    coupling: BrownianSpec | None = None,
) -> EnsembleRun:
    """Run P = `run.paths` independent heavy-ball SGD paths on `surface`.

    **Arguments:**

    - `surface`: the loss and its minibatch-gradient sampler.
    - `run`: ε, m, B, N, steps, paths and seed.
    - `save_steps`: SGD steps at which θ is saved (default: 11 evenly spaced, 0 included).
    - `theta0`: start (default: ``surface.initial_point()``); a network's surface runs in its
      own dtype, whatever the dtype of `theta0`.
    - `coupling`: drive SGD's Gaussian noise by the Brownian path of the SDE described by
      this spec (common random numbers; needs a surface with ``gaussian_noise``).

    **Returns:** an :class:`EnsembleRun` with θ of shape (paths, saves, d).
    """
    steps = checked_save_steps(save_steps, run.steps)
    check_surface_fits_run(surface, run)
    if coupling is not None and not surface.gaussian_noise:
        raise IncompatibleChoiceError(
            f"coupling needs Gaussian gradient noise; {type(surface).__name__} samples real "
            "minibatches, so SGD cannot share the SDE's Brownian path"
        )
    if coupling is not None and not coupling.coupling_capable:
        raise IncompatibleChoiceError(
            f"coupling needs brownian='grid' or 'tree', got brownian={coupling.kind!r}"
        )
    start = surface.initial_point() if theta0 is None else jnp.asarray(theta0)
    # the loop computes in the dtype of the surface's working form (a network's own dtype);
    # eval_shape reads it without cutting θ₀ apart
    dtype = jax.tree_util.tree_leaves(jax.eval_shape(surface.parameters, start))[0].dtype
    stream = Stream.MINIBATCH if coupling is None else Stream.BROWNIAN
    keys = path_keys(run.seed, run.paths, stream)
    theta = sgd_trajectories(
        surface,
        start,
        jnp.asarray(run.lr, dtype),
        kernel_momentum([run.momentum], dtype),
        keys,
        jnp.asarray(steps),
        batch=(run.batch_size, run.n_train, run.replacement),
        coupling=coupling,
        optimizer_config=run.optimizer.traced(dtype),
    )
    info = {
        "simulator": "sgd",
        "optimizer": run.optimizer.describe(run.lr, run.momentum),
        "noise": "coupled to SDE Brownian path" if coupling else "minibatch sampler",
        "config": run,
        **provenance(),
    }
    return EnsembleRun(
        np.asarray(steps), theta, diverged_paths(theta, run.divergence_bound), info
    )


def kernel_momentum(momenta: Sequence[float], dtype: Any) -> jax.Array | None:
    """Heavy-ball m of each path as :func:`sgd_trajectories` takes it: None when every m is 0
    — plain SGD without carrying a velocity (v = 0·v + ĝ = ĝ, so the updates are the same
    bit for bit, 7–35 % cheaper per step on a CPU) — else one value, or one per path."""
    if all(m == 0 for m in momenta):
        return None
    values = jnp.asarray(momenta, dtype)
    return values[0] if len(momenta) == 1 else values


@eqx.filter_jit
def sgd_trajectories(
    surface: Surface,
    theta0: Float[Array, "*paths d"],
    lr: Float[Array, "*paths"],
    momentum: Float[Array, "*paths"] | None,
    keys: Key,
    save_steps: Steps,
    *,
    batch: tuple[int, int | None, bool],
    coupling: BrownianSpec | None,
    optimizer_config: Optimizer = DEFAULT_OPTIMIZER,
) -> Trajectories:
    """The compiled kernel of :func:`simulate_sgd`: θ at `save_steps` of one heavy-ball path
    per key (one compilation for the whole ensemble). `theta0`, `lr` and `momentum` are
    shared by every path, or given per path (a leading axis of the keys' length: the runs of
    a sweep batch or a schedule, each its own start and hyper-parameters, in one loop);
    `momentum` None is m = 0 without a velocity buffer (:func:`kernel_momentum`); ε, m and the
    optimiser's hyper-parameters are in the dtype of ``surface.parameters(theta0)``.
    `batch` = (B, N, replacement) of the minibatch sampler; `coupling` drives Gaussian noise
    by an SDE's Brownian path instead; `optimizer_config` (default heavy-ball SGD) is built
    here from its hyper-parameters (arrays are traced,
    :meth:`~sgdsde.optimizers.Optimizer.traced`)."""
    batch_size, n_train, replacement = batch
    segment_lengths = jnp.diff(save_steps, prepend=0)
    per_path = (0 if theta0.ndim == 2 else None, 0 if lr.ndim == 1 else None,
                0 if momentum is not None and momentum.ndim == 1 else None)

    def one_path(key: Key, theta0: Vector, lr: jax.Array, momentum: jax.Array | None
                 ) -> Trajectories:
        params = surface.parameters(theta0)
        optimizer = optimizer_config.transformation(lr, momentum)
        if coupling is None:

            def gradient(params: Any, step: jax.Array, state: Any) -> tuple[Any, Any]:
                return surface.minibatch_gradient(
                    params, key, step, state, batch_size=batch_size, n_train=n_train,
                    replacement=replacement,
                )
        else:
            path = coupling.path(key, theta0.dtype)
            factor = minibatch_noise_factor(batch_size, n_train, replacement)

            def gradient(params: Any, step: jax.Array, state: Any) -> tuple[Any, Any]:
                xi = coupling.step_noise(path, step)
                theta = surface.flatten(params)
                direction = surface.gaussian_minibatch_gradient(theta, xi, factor)
                return surface.parameters(direction), state

        def sgd_step(_, carry):
            params, opt_state, sampler, step = carry
            direction, sampler = gradient(params, step, sampler)
            updates, opt_state = optimizer.update(direction, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, sampler, step + 1

        def segment(carry, length):
            carry = jax.lax.fori_loop(0, length, sgd_step, carry)
            return carry, surface.flatten(carry[0])

        start = (params, optimizer.init(params), surface.sampler_state(),
                 jnp.zeros((), jnp.int32))
        _, saved = jax.lax.scan(segment, start, segment_lengths)
        return saved

    return jax.vmap(one_path, in_axes=(0, *per_path))(keys, theta0, lr, momentum)
