"""Bad input fails at the boundary, naming the parameter, value and allowed range, before any
compilation (the jitted engines are replaced by tripwires)."""

import numpy as np
import pytest

from sgdsde import Quadratic, RunConfig, SDEConfig
from sgdsde.errors import (
    MatrixError,
    ParameterRangeError,
    UnknownNameError,
    UnstableLearningRateError,
)
from sgdsde.studies import compare_on_quadratic

pytestmark = pytest.mark.usefixtures("no_compilation")


@pytest.mark.parametrize(
    "kwargs, name, allowed",
    [
        (dict(lr=0.0), "lr", "> 0"),
        (dict(lr=-1.0), "lr", "> 0"),
        (dict(lr=float("nan")), "lr", "> 0"),
        (dict(lr=0.1, momentum=1.0), "momentum", "[0, 1)"),
        (dict(lr=0.1, momentum=-0.1), "momentum", "[0, 1)"),
        (dict(lr=0.1, batch_size=0), "batch_size", ">= 1"),
        (dict(lr=0.1, batch_size=33, n_train=32), "batch_size", "<= n_train=32"),
        (dict(lr=0.1, n_train=1), "n_train", ">= 2"),
        (dict(lr=0.1, steps=0), "steps", ">= 1"),
        (dict(lr=0.1, paths=0), "paths", ">= 1"),
        (dict(lr=0.1, seed=-1), "seed", ">= 0"),
    ],
)
def test_run_config_names_parameter_value_and_range(kwargs, name, allowed):
    with pytest.raises(ParameterRangeError) as error:
        RunConfig(**kwargs)
    message = str(error.value)
    assert message.startswith(f"{name}=") and allowed in message


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(model="sme3"), "model"),
        (dict(solver="rk4"), "solver"),
        (dict(brownian="x"), "brownian"),
    ],
)
def test_sde_config_rejects_unknown_names_listing_the_choices(kwargs, name):
    with pytest.raises(UnknownNameError, match=f"{name}=.* must be one of"):
        SDEConfig(**kwargs)
    with pytest.raises(ParameterRangeError, match="substeps"):
        SDEConfig(substeps=0)


@pytest.mark.parametrize(
    "hessian, noise, match",
    [
        (np.diag([1.0, -0.5]), np.eye(2), "hessian must be symmetric positive definite"),
        (np.array([[1.0, 0.5], [0.0, 1.0]]), np.eye(2), "hessian must be symmetric"),
        (np.eye(2), np.diag([1.0, -1.0]), "noise_cov must be symmetric positive semi-definite"),
        (np.eye(2), np.eye(3), "noise_cov must be 2x2"),
    ],
)
def test_quadratic_rejects_bad_matrices(hessian, noise, match):
    with pytest.raises(MatrixError, match=match):
        Quadratic(hessian, noise)


def test_unstable_learning_rate_is_refused_unless_allowed():
    q = Quadratic(np.diag([1.0, 4.0]), np.eye(2))
    with pytest.raises(UnstableLearningRateError, match=r"lr=0\.6 .* must be < 2\(1\+m\)/λ_max"):
        compare_on_quadratic(q, RunConfig(lr=0.6), SDEConfig())
    with pytest.raises(AssertionError, match="before compilation"):
        compare_on_quadratic(q, RunConfig(lr=0.6), SDEConfig(), allow_unstable=True)
