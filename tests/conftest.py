"""Numerics tests run in float64 (as Diffrax's own tests do) so that statistical tolerances,
not round-off, decide what passes."""

import jax
import pytest

import sgdsde.sde
import sgdsde.sgd

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def no_compilation(monkeypatch):
    """Make both simulators' compiled kernels raise if anything reaches them, so a test can
    show that bad input is refused before compilation."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a simulator was called: the error must come before compilation")

    monkeypatch.setattr(sgdsde.sgd, "_sgd_ensemble", forbidden)
    monkeypatch.setattr(sgdsde.sde, "_sde_ensemble", forbidden)
