"""What a simulation returns: trajectories, divergence flags and a full record of the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._types import Flags, Trajectories
from ._version import __version__


@dataclasses.dataclass(frozen=True)
class EnsembleRun:
    """An ensemble of P runs saved at the same SGD steps.

    `theta[p, s]` is path p at SGD step `steps[s]` (for an SDE: at the SDE time that maps to
    that step). `diverged[p]` is True when path p produced a NaN/inf (or the solver failed);
    such paths must be excluded from statistics and counted, never averaged. `info` records the
    simulator, model, solver, step size, Brownian path, configuration, package version and
    device, so every number can be traced to how it was made.
    """

    steps: np.ndarray
    theta: Trajectories
    diverged: Flags
    info: Mapping[str, Any]

    @property
    def final(self) -> jax.Array:
        """θ at the last saved step of every path, shape (paths, d)."""
        return self.theta[:, -1, :]

    @property
    def diverged_fraction(self) -> float:
        """Fraction of the P paths flagged as diverged, (1/P)·Σ_p diverged[p]."""
        return float(np.mean(np.asarray(self.diverged)))


def device_name() -> str:
    """The first visible JAX device as ``platform:kind`` (e.g. ``cpu:cpu``, ``gpu:NVIDIA H200``),
    the device every result records."""
    device = jax.devices()[0]
    return f"{device.platform}:{device.device_kind}"


def provenance() -> dict[str, str]:
    """Package version and the device the run used."""
    return {"sgdsde_version": __version__, "device": device_name()}


def diverged_paths(theta: Trajectories, bound: float) -> Flags:
    """True for each path with a NaN/inf or a saved |θ_i| above `bound`."""
    finite_and_bounded = jnp.all(jnp.isfinite(theta) & (jnp.abs(theta) <= bound), axis=(1, 2))
    return ~finite_and_bounded
