"""Brownian paths and random streams shared by both simulators.

Path i of an ensemble with seed s draws from ``fold_in(fold_in(key(s), stream), i)``, so a run
is reproducible bit for bit and independent of how an ensemble or sweep is batched. SGD's
minibatch noise and the SDE's Brownian motion use different streams, unless a run is
*coupled*: then SGD's Gaussian noise at step k is the standardised increment
ξ_k = (W((k+1)τ) − W(kτ))/√τ of the very `VirtualBrownianTree` the SDE integrates, with τ the
SDE time of one SGD step. ξ_k ~ N(0, I) independently, so coupled SGD has exactly the law of
ordinary SGD with Gaussian noise; coupling only shares randomness (common random numbers),
which makes the SGD–SDE gap measurable with far smaller ensembles.
"""

from __future__ import annotations

import dataclasses
import enum

import diffrax
import jax
import jax.numpy as jnp

from ._types import Key, NoiseVector
from .config import BrownianKind


class Stream(enum.IntEnum):
    """Independent random streams of one path."""

    MINIBATCH = 0
    BROWNIAN = 1


def path_keys(seed: int, paths: int, stream: Stream) -> Key:
    """Keys of paths 0..P−1 of one stream: ``fold_in(fold_in(key(seed), stream), i)``."""
    base = jax.random.fold_in(jax.random.key(seed), int(stream))
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(paths))


_CONCRETE_LEVY_AREA = {
    diffrax.AbstractBrownianIncrement: diffrax.BrownianIncrement,
    diffrax.AbstractSpaceTimeLevyArea: diffrax.SpaceTimeLevyArea,
    diffrax.AbstractSpaceTimeTimeLevyArea: diffrax.SpaceTimeTimeLevyArea,
}


def levy_area_for(solver: diffrax.AbstractSolver) -> type[diffrax.AbstractBrownianIncrement]:
    """The cheapest Lévy area the solver accepts (plain increments for Euler, Heun, ...)."""
    minimal = getattr(solver, "minimal_levy_area", diffrax.AbstractBrownianIncrement)
    return _CONCRETE_LEVY_AREA.get(minimal, minimal)


@dataclasses.dataclass(frozen=True)
class BrownianSpec:
    """Everything that fixes one path's Brownian motion apart from its key.

    `time_per_step` is τ (SDE time of one SGD step) and `dt` the solver step; the tree's
    tolerance is ``dt * tol_fraction``. Two specs that compare equal give identical paths for
    the same key, which is how SGD and the SDE share one path in a coupled run.
    """

    kind: BrownianKind
    horizon: float
    time_per_step: float
    dt: float
    noise_dim: int
    levy_area: type[diffrax.AbstractBrownianIncrement] = diffrax.BrownianIncrement
    tol_fraction: float = 1.0 / 16.0

    def path(self, key: Key, dtype: jnp.dtype) -> diffrax.AbstractBrownianPath:
        shape = jax.ShapeDtypeStruct((self.noise_dim,), dtype)
        if self.kind == "unsafe":
            return diffrax.UnsafeBrownianPath(shape=shape, key=key, levy_area=self.levy_area)
        return diffrax.VirtualBrownianTree(
            t0=0.0,
            t1=self.horizon,
            tol=self.dt * self.tol_fraction,
            shape=shape,
            key=key,
            levy_area=self.levy_area,
        )

    def step_noise(
        self, path: diffrax.AbstractBrownianPath, step: jax.Array
    ) -> NoiseVector:
        """ξ_k = (W((k+1)τ) − W(kτ))/√τ, the standard normal noise of SGD step k."""
        start = step * self.time_per_step
        increment = path.evaluate(start, start + self.time_per_step)
        return increment / jnp.sqrt(jnp.asarray(self.time_per_step, increment.dtype))
