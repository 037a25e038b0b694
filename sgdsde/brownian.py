"""Brownian paths and random streams shared by both simulators.

Path i of an ensemble with seed s draws from ``fold_in(fold_in(key(s), stream), i)``, so a run
is reproducible bit for bit and independent of how an ensemble or sweep is batched. SGD's
minibatch noise and the SDE's Brownian motion use different streams, unless a run is
*coupled*: then SGD's Gaussian noise at step k is the standardised increment
ξ_k = (W((k+1)τ) − W(kτ))/√τ of the very Brownian path the SDE integrates (a
:class:`GridBrownianPath` or a `VirtualBrownianTree`), with τ the SDE time of one SGD step.
ξ_k ~ N(0, I) independently, so coupled SGD has exactly the law of ordinary SGD with
Gaussian noise; coupling only shares randomness (common random numbers), which makes the
SGD–SDE gap measurable with far smaller ensembles.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from ._types import Key, NoiseVector
from .config import BrownianKind


class Stream(enum.IntEnum):
    """Independent random streams of one path."""

    MINIBATCH = 0
    BROWNIAN = 1
    NOISE_SUBSET = 2
    BOOTSTRAP = 3


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


class GridBrownianPath(diffrax.AbstractBrownianPath):
    """Brownian motion on the fixed grid t_n = n·dt, generated counter-style: the increment
    over [t_n, t_{n+1}] (and its space-time(-time) Lévy area) is drawn from
    ``fold_in(key, n)``, so any piece of the path can be regenerated independently.

    As cheap as `UnsafeBrownianPath`, but reproducible from outside the solver: SGD can
    rebuild its step noise from the same increments. Only grid-aligned intervals of length
    dt may be evaluated (the SDE engine steps on exactly this grid with ``StepTo``).
    """

    key: Key
    dt: jax.Array
    shape: jax.ShapeDtypeStruct = eqx.field(static=True)
    levy_area: type[diffrax.AbstractBrownianIncrement] = eqx.field(static=True)

    @property
    def t0(self):
        """Start of the path, t = 0 (W(0) = 0)."""
        return 0.0

    @property
    def t1(self):
        """End of the path: none (t1 = ∞), the grid t_n = n·dt goes on for any n."""
        return jnp.inf

    def evaluate(self, t0, t1=None, left=True, use_levy=False):
        """Increment W(t_{n+1}) − W(t_n) ~ N(0, dt·I) over [t_n, t_n + dt], n = round(t0/dt), drawn
        from ``fold_in(key, n)``; with `use_levy` also H ~ N(0, dt/12·I) (and K ~ N(0, dt/720·I)).
        `t1` and `left` are ignored: only grid intervals of length dt may be asked for."""
        del t1, left
        index = jnp.round(t0 / self.dt).astype(jnp.int32)
        keys = jax.random.split(jax.random.fold_in(self.key, index), 3)
        std = jnp.sqrt(self.dt).astype(self.shape.dtype)
        w = std * jax.random.normal(keys[0], self.shape.shape, self.shape.dtype)
        if not use_levy:
            return w
        dt = jnp.asarray(self.dt, self.shape.dtype)
        if self.levy_area is diffrax.BrownianIncrement:
            return diffrax.BrownianIncrement(dt=dt, W=w)
        hh = std / math.sqrt(12) * jax.random.normal(keys[1], self.shape.shape, self.shape.dtype)
        if self.levy_area is diffrax.SpaceTimeLevyArea:
            return diffrax.SpaceTimeLevyArea(dt=dt, W=w, H=hh)
        kk = std / math.sqrt(720) * jax.random.normal(keys[2], self.shape.shape, self.shape.dtype)
        return diffrax.SpaceTimeTimeLevyArea(dt=dt, W=w, H=hh, K=kk)


@dataclasses.dataclass(frozen=True)
class BrownianSpec:
    """Everything that fixes one path's Brownian motion apart from its key.

    `time_per_step` is τ (SDE time of one SGD step), `substeps` the solver steps per SGD step
    (dt = τ/substeps) and `horizon` the final SDE time; a tree's tolerance is
    ``dt * tol_fraction``. Two equal specs give identical paths for the same key, which is how
    SGD and the SDE share one path in a coupled run.
    """

    kind: BrownianKind
    horizon: float
    time_per_step: float
    substeps: int
    noise_dim: int
    levy_area: type[diffrax.AbstractBrownianIncrement] = diffrax.BrownianIncrement
    tol_fraction: float = 1.0 / 16.0

    @property
    def dt(self) -> float:
        """Solver step dt = τ/substeps, in SDE time."""
        return self.time_per_step / self.substeps

    @property
    def coupling_capable(self) -> bool:
        """Whether SGD can regenerate this path's increments (not so for "unsafe")."""
        return self.kind != "unsafe"

    def path(self, key: Key, dtype: jnp.dtype) -> diffrax.AbstractBrownianPath:
        """The Brownian motion W ∈ R^r of this spec for `key`: ``UnsafeBrownianPath`` ("unsafe"),
        :class:`GridBrownianPath` on t_n = n·dt ("grid"), or a ``VirtualBrownianTree`` on
        [0, horizon] with tolerance dt·tol_fraction ("tree")."""
        shape = jax.ShapeDtypeStruct((self.noise_dim,), dtype)
        if self.kind == "unsafe":
            return diffrax.UnsafeBrownianPath(shape=shape, key=key, levy_area=self.levy_area)
        if self.kind == "grid":
            return GridBrownianPath(key, jnp.asarray(self.dt, dtype), shape, self.levy_area)
        return diffrax.VirtualBrownianTree(
            t0=0.0,
            t1=self.horizon,
            tol=self.dt * self.tol_fraction,
            shape=shape,
            key=key,
            levy_area=self.levy_area,
        )

    def step_noise(self, path: diffrax.AbstractBrownianPath, step: jax.Array) -> NoiseVector:
        """ξ_k = (W((k+1)τ) − W(kτ))/√τ ~ N(0, I), the noise of SGD step k, summed from the
        path's increments over the solver grid (exactly what the SDE solver sees)."""
        grid = (step * self.substeps + jnp.arange(self.substeps)) * self.dt
        increments = jax.vmap(lambda t: path.evaluate(t, t + self.dt))(grid)
        return increments.sum(0) / math.sqrt(self.time_per_step)
