"""jaxtyping aliases used across sgdsde (one place, so shapes read the same everywhere)."""

from __future__ import annotations

from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

Scalar = Float[Array, ""]
Vector = Float[Array, " d"]
Matrix = Float[Array, "d d"]
NoiseVector = Float[Array, " r"]
PhaseMatrix = Float[Array, "2d 2d"]
Ensemble = Float[Array, "paths d"]
Trajectories = Float[Array, "paths saves d"]
Steps = Int[Array, " saves"]
Flags = Bool[Array, " paths"]
Key = PRNGKeyArray

__all__ = [
    "Scalar", "Vector", "Matrix", "NoiseVector", "PhaseMatrix", "Ensemble",
    "Trajectories", "Steps", "Flags", "Key", "Array", "Float", "Int", "Bool",
]
