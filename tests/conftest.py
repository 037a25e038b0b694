"""Numerics tests run in float64 (as Diffrax's own tests do) so that statistical tolerances,
not round-off, decide what passes."""

import jax

jax.config.update("jax_enable_x64", True)
