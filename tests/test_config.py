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


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=0.1, batch_size=8, n_train=100), dict(lr=0.3, momentum=0.9, batch_size=5,
                                                   n_train=50, replacement=True),
     dict(lr=0.05, batch_size=4)],
)
def test_run_config_owns_the_derived_quantities(kwargs):
    """f, g and ε_eff from RunConfig are the closed forms of docs/theory.md §1 (written out
    here independently): f = 1/B with replacement or N = ∞, (N−B)/(B(N−1)) without;
    g = ε(N/B − 1)/(1 − m); ε_eff = ε/(1 − m)."""
    run = RunConfig(**kwargs)
    lr, m, b, n = run.lr, run.momentum, run.batch_size, run.n_train
    factor = 1 / b if n is None or run.replacement else (n - b) / (b * (n - 1))
    assert run.noise_factor == pytest.approx(factor, rel=1e-15)
    assert run.effective_lr == pytest.approx(lr / (1 - m), rel=1e-15)
    if n is None:
        assert run.noise_scale is None
    else:
        assert run.noise_scale == pytest.approx(lr * (n / b - 1) / (1 - m), rel=1e-15)


def test_budget_steps_and_checkpoints_validate_their_inputs():
    from sgdsde import budget_steps
    from sgdsde.config import checkpoint_steps

    assert budget_steps("sde_time", 10.0, lr=0.1, momentum=0.5, batch_size=4, n_train=40) == 50
    assert budget_steps("epochs", 2, lr=0.1, momentum=0.0, batch_size=4, n_train=41) == 20
    assert checkpoint_steps(10, 3) == (0, 5, 10)
    with pytest.raises(ParameterRangeError, match="lr=-1"):
        budget_steps("sde_time", 10.0, lr=-1, momentum=0.0, batch_size=4, n_train=40)
    with pytest.raises(UnknownNameError, match="budget='weeks'"):
        budget_steps("weeks", 1.0, lr=0.1, momentum=0.0, batch_size=4, n_train=40)
    with pytest.raises(ParameterRangeError, match="checkpoints=1"):
        checkpoint_steps(10, 1)


def test_sde_config_takes_a_model_object_and_the_registry_lists_it():
    from sgdsde import SDE_MODELS, UnderdampedSDE

    config = SDEConfig(model=UnderdampedSDE())
    assert config.model_name == "underdamped" and isinstance(config.sde_model, UnderdampedSDE)
    assert SDEConfig(model="underdamped").sde_model == config.sde_model
    assert set(SDE_MODELS) == {"sme1", "sme2", "underdamped", "rmsprop", "adam"}
