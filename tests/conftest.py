"""Numerics tests run in float64 (as Diffrax's own tests do) so that statistical tolerances,
not round-off, decide what passes. The suite runs in two pytest-xdist workers (pyproject's
addopts); on a GPU each worker takes memory as it needs it instead of preallocating most of
the device, so that both fit."""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import pytest  # noqa: E402

import sgdsde.sde  # noqa: E402
import sgdsde.sgd  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def no_compilation(monkeypatch):
    """Make both simulators' compiled kernels raise if anything reaches them, so a test can
    show that bad input is refused before compilation."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a simulator was called: the error must come before compilation")

    monkeypatch.setattr(sgdsde.sgd, "sgd_trajectories", forbidden)
    monkeypatch.setattr(sgdsde.sde, "sde_trajectories", forbidden)
