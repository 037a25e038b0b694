"""The optimiser registry, the scaling rules and the adaptive SDEs' declared structure: the
discrete engine reproduces optax's documented update equations (recomputed here in NumPy),
the square-root rule leaves every SDE coefficient unchanged, and bad input fails before
anything is compiled, naming the value and the allowed range."""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import assert_one_line_error
from typer.testing import CliRunner

from sgdsde import Quadratic, RunConfig, SDEConfig, setup_sde, simulate_sde, simulate_sgd
from sgdsde.adaptive_theory import adaptive_stationary_cov, adaptive_stationary_loss
from sgdsde.cli import app
from sgdsde.errors import IncompatibleChoiceError, ParameterRangeError, UnknownNameError
from sgdsde.optimizers import OPTIMIZERS, SGD, Adam, RMSprop, make_optimizer
from sgdsde.rules import scaled_run
from sgdsde.sde_models import AdamSDE, RMSpropSDE
from sgdsde.studies import check_equal_epochs, outside_margin, rule_base_run, tost

runner = CliRunner()


def noiseless_quadratic():
    """d = 2, H = diag(2, 0.5), no gradient noise: the optimiser's path is deterministic."""
    return Quadratic(np.diag([2.0, 0.5]), np.zeros((2, 2)), minimum=[0.5, -1.0],
                     dtype=jnp.float64)


def manual_path(optimizer, lr, gradient, theta0, steps):
    """The documented update equations (sgdsde.optimizers), step by step in NumPy."""
    theta = np.array(theta0, dtype=np.float64)
    m = np.zeros_like(theta)
    nu = np.full_like(theta, getattr(optimizer, "initial_scale", 0.0))
    for k in range(1, steps + 1):
        g = gradient(theta)
        if isinstance(optimizer, RMSprop):
            nu = optimizer.decay * nu + (1 - optimizer.decay) * g**2
            nu_hat = nu / (1 - optimizer.decay**k) if optimizer.bias_correction else nu
            theta = theta - lr * g / np.sqrt(nu_hat + optimizer.eps)
        else:
            m = optimizer.b1 * m + (1 - optimizer.b1) * g
            nu = optimizer.b2 * nu + (1 - optimizer.b2) * g**2
            m_hat, nu_hat = m / (1 - optimizer.b1**k), nu / (1 - optimizer.b2**k)
            theta = theta - lr * m_hat / (np.sqrt(nu_hat + optimizer.eps_root) + optimizer.eps)
    return theta


@pytest.mark.parametrize("optimizer", [
    RMSprop(decay=0.9, eps=1e-3, initial_scale=0.5),
    RMSprop(decay=0.8, eps=1e-8, bias_correction=True),
    Adam(b1=0.9, b2=0.99, eps=1e-3, eps_root=1e-4),
])
def test_the_engine_runs_optax_exactly_as_documented(optimizer):
    surface = noiseless_quadratic()
    run = RunConfig(lr=0.05, steps=7, paths=2, optimizer=optimizer)
    theta0 = np.array([2.0, 1.0])
    result = simulate_sgd(surface, run, save_steps=(7,), theta0=jnp.asarray(theta0))
    expected = manual_path(optimizer, 0.05,
                           lambda t: np.diag([2.0, 0.5]) @ (t - np.array([0.5, -1.0])),
                           theta0, 7)
    np.testing.assert_allclose(np.asarray(result.final), [expected, expected], rtol=1e-12)
    assert result.info["optimizer"].startswith(f"optax.{optimizer.name}(lr=0.05")


def test_sgd_is_the_default_and_its_record_is_unchanged():
    run = RunConfig(lr=0.1, momentum=0.5)
    assert run.optimizer == SGD() and RunConfig(lr=0.1, optimizer="sgd") == RunConfig(lr=0.1)
    assert SGD().describe(0.1, 0.5) == "optax.sgd(lr=0.1, momentum=0.5)"
    assert RunConfig(lr=0.1, optimizer="adam").optimizer == Adam()
    assert set(OPTIMIZERS) == {"sgd", "rmsprop", "adam"}


def test_traced_hyperparameters_are_arrays_and_flags_stay_static():
    traced = RMSprop(decay=0.9, bias_correction=True).traced(jnp.float32)
    assert isinstance(traced.decay, jnp.ndarray) and traced.decay.dtype == jnp.float32
    assert traced.bias_correction is True


@pytest.mark.parametrize(("build", "name", "allowed"), [
    (lambda: Adam(b1=1.0), "b1", "[0, 1)"),
    (lambda: Adam(b2=-0.1), "b2", "[0, 1)"),
    (lambda: RMSprop(decay=1.5), "decay", "[0, 1)"),
    (lambda: RMSprop(eps=-1.0), "eps", ">= 0"),
    (lambda: RMSprop(initial_scale=-1.0), "initial_scale", ">= 0"),
])
def test_bad_hyperparameters_name_the_value_and_range(build, name, allowed):
    with pytest.raises(ParameterRangeError, match=rf"{name}=.*{re_escape(allowed)}"):
        build()


def re_escape(text):
    import re

    return re.escape(text)


def test_unknown_optimizer_or_key_and_momentum_with_an_adaptive_method_fail():
    with pytest.raises(UnknownNameError, match="optimizer='adamw'.*sgd, rmsprop, adam"):
        RunConfig(lr=0.1, optimizer="adamw")
    with pytest.raises(UnknownNameError, match="beta1"):
        make_optimizer("adam", beta1=0.9)
    with pytest.raises(IncompatibleChoiceError, match="momentum=0.9 is heavy ball"):
        RunConfig(lr=0.1, momentum=0.9, optimizer="adam")


def test_square_root_rule_hyperparameters():
    base = RunConfig(lr=0.01, batch_size=4, n_train=1000, steps=1600,
                     optimizer=Adam(b1=0.99, b2=0.999, eps=1e-8, eps_root=1e-6))
    scaled = scaled_run(base, "sqrt", 16)
    assert (scaled.lr, scaled.batch_size, scaled.steps) == (pytest.approx(0.04), 64, 100)
    assert scaled.optimizer.b1 == pytest.approx(0.84)
    assert scaled.optimizer.b2 == pytest.approx(0.984)
    assert scaled.optimizer.eps == pytest.approx(2.5e-9)
    assert scaled.optimizer.eps_root == pytest.approx(1e-6 / 16)
    rms = RMSprop(decay=0.999, eps=1e-4, initial_scale=0.2).sqrt_scaled(4)
    assert (rms.decay, rms.eps, rms.initial_scale) == pytest.approx((0.996, 2.5e-5, 0.05))
    linear = scaled_run(base, "linear", 16)
    assert (linear.lr, linear.batch_size, linear.optimizer) == (0.16, 64, base.optimizer)


@pytest.mark.parametrize(("kappa", "message"), [
    (0.5, "kappa=0.5 is out of range: kappa must be a finite number >= 1"),
    (300, "kappa must be <= n_train/B = 250"),
    (101, r"kappa must be <= 1/\(1 - b1\) = 100"),
    (1.3, "kappa\\*B is an integer"),
])
def test_bad_kappa_fails_naming_the_range(kappa, message):
    base = RunConfig(lr=0.01, batch_size=4, n_train=1000, optimizer=Adam(b1=0.99))
    with pytest.raises(ParameterRangeError, match=message):
        scaled_run(base, "sqrt", kappa)
    with pytest.raises(UnknownNameError, match="rule='cubic'"):
        scaled_run(base, "cubic", 2)


def test_square_root_rule_leaves_every_sde_coefficient_unchanged():
    """σ₀ = ε√f, c = (1−β)/ε², εδ, ε²δ and ν₀/f are invariant, so the bound SDE models at
    (ε, B) and (√κε, κB) have the same drift, diffusion and start (Malladi et al. 2022)."""
    surface = Quadratic.from_spectra([2.0, 0.5], [3.0, 1.0], dtype=jnp.float64)
    y_theta = jnp.array([0.3, -0.7])
    z = jnp.array([0.4, -1.1])
    for optimizer in (RMSprop(decay=0.99, eps=1e-3, initial_scale=0.3),
                      Adam(b1=0.95, b2=0.99, eps=1e-3, eps_root=1e-4)):
        base = RunConfig(lr=0.02, batch_size=2, optimizer=optimizer)
        models = []
        for run in (base, scaled_run(base, "sqrt", 8)):
            model = SDEConfig(model=optimizer.name).sde_model.bind(run)
            y = model.initial_state(y_theta)
            y = y.at[y_theta.size:].add(0.5)  # moments and bias weights away from their start
            lr = jnp.asarray(run.lr)
            models.append((model.initial_state(y_theta), model.drift(surface, y, lr, 0.0),
                           model.diffusion(surface, y, z, lr, 0.0, run.noise_factor)))
        for first, second in zip(*models, strict=True):
            np.testing.assert_allclose(first, second, rtol=1e-10)


def test_adaptive_models_declare_what_they_need_before_compiling(no_compilation):
    surface = Quadratic.from_spectra([2.0, 0.5], [3.0, 1.0], dtype=jnp.float64)
    adam = RunConfig(lr=0.01, optimizer="adam")
    with pytest.raises(IncompatibleChoiceError, match="model='sme1' is the SDE of optax.sgd"):
        simulate_sde(surface, adam, SDEConfig(model="sme1"))
    with pytest.raises(IncompatibleChoiceError, match="use model='sme1', 'sme2' or"):
        simulate_sde(surface, RunConfig(lr=0.01), SDEConfig(model="adam"))
    with pytest.raises(IncompatibleChoiceError, match="initial_scale > 0 or bias_correction"):
        simulate_sde(surface, RunConfig(lr=0.01, optimizer="rmsprop"), "rmsprop")
    rms = RunConfig(lr=0.01, optimizer=RMSprop(bias_correction=True))
    with pytest.raises(IncompatibleChoiceError, match="needs additive"):
        simulate_sde(surface, rms, SDEConfig(model="rmsprop", solver="shark"))
    assert setup_sde(surface, rms, "rmsprop").solver_name == "euler"
    assert isinstance(setup_sde(surface, adam, "adam").model, AdamSDE)
    assert isinstance(setup_sde(surface, rms, "rmsprop").model, RMSpropSDE)


def test_stationary_loss_identity_for_non_commuting_noise():
    """E L_∞ = ½tr(HX) = (ε²/4)Σ S_ii/P_i for any H and S (docs/adaptive.md §3), against the
    Kronecker Lyapunov solve; in 1-D X = ε²S/(2PH) in closed form."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3, 3))
    H, S = jnp.asarray(a @ a.T + np.eye(3)), jnp.asarray(b @ b.T + 0.1 * np.eye(3))
    for optimizer in (RMSprop(eps=0.3), Adam(b1=0.9, eps=0.2, eps_root=0.1)):
        X = adaptive_stationary_cov(H, S, 0.1, optimizer)
        np.testing.assert_allclose(0.5 * jnp.trace(H @ X),
                                   adaptive_stationary_loss(S, 0.1, optimizer), rtol=1e-9)
    X = adaptive_stationary_cov(jnp.array([[2.0]]), jnp.array([[3.0]]), 0.1, RMSprop(eps=1.0))
    np.testing.assert_allclose(X, 0.01 * 3.0 / (2 * 0.1 * 2.0 * 2.0), rtol=1e-12)


def test_equivalence_tests_on_hand_made_numbers():
    difference, stderr = np.array([0.0, 0.05, 0.2]), np.array([0.01, 0.01, 0.01])
    z = 2.326  # one-sided 1 %
    assert list(tost(difference, stderr, 0.1, 0.01)) == [True, True, False]
    assert 0.05 + z * 0.01 < 0.1  # the second interval [0.027, 0.073] is inside (−0.1, 0.1)
    assert list(outside_margin(difference, stderr, 0.1, 0.01, count=3)) == [False, False, True]


def test_equal_epochs_and_the_base_run():
    check_equal_epochs(64, [1, 2, 4, 16], 5)
    with pytest.raises(ParameterRangeError, match="steps=100 .* multiple of kappa"):
        check_equal_epochs(100, [1, 2, 4, 8], 5)
    base = rule_base_run("adam", n_train=1000, batch_size=2, epochs=10, kappas=[1, 2, 4, 8, 16],
                         checkpoints=5, paths=4)
    assert base.steps % 64 == 0 and base.steps >= 5000 and base.optimizer == Adam(0.99, 0.999)
    assert rule_base_run("rmsprop", n_train=100, batch_size=2, epochs=1, kappas=[1], checkpoints=2,
                         paths=1, decay=0.9).optimizer == RMSprop(0.9, bias_correction=True)
    assert math.isclose(dataclasses.replace(base, lr=0.5).lr, 0.5)


@pytest.mark.parametrize(("args", "names"), [
    (["--optimizer", "adamw"], ["optimizer='adamw'", "sgd, rmsprop, adam"]),
    (["--rule", "cubic"], ["rule='cubic'", "linear, sqrt"]),
    (["--kappas", "0,2"], ["kappa=0", ">= 1"]),
    (["--kappas", "1,2.5"], ["--kappas"]),
    (["--kappas", "1,200"], ["kappa=200", "1/(1 - b1) = 100"]),
    (["--kappas", "1,1000"], ["kappa=1000", "n_train/B"]),
    (["--hyper", "b1=1.5"], ["b1=1.5", "[0, 1)"]),
    (["--hyper", "beta=0.9"], ["beta", "b1, b2, eps, eps_root"]),
    (["--hyper", "b1"], ["--hyper", "key=value"]),
])
def test_rule_command_rejects_bad_input_before_compiling(no_compilation, args, names):
    result = runner.invoke(app, ["rule", "--json", *args])
    assert_one_line_error(result, names)


def test_rule_command_json_reports_every_kappa():
    """One JSON object: per κ the final test accuracy and train loss (mean ± stderr), the
    difference from κ = 1 with its interval, the margin and the verdict."""
    import json

    result = runner.invoke(app, ["rule", "--json", "--optimizer", "adam", "--kappas", "1,2",
                                 "--n-train", "100", "--n-test", "100", "--width", "4",
                                 "--epochs", "1", "--paths", "4"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["optimizer"] == "adam" and record["rule"] == "sqrt"
    assert [row["kappa"] for row in record["kappas"]] == [1.0, 2.0]
    second = record["kappas"][1]
    assert second["batch_size"] == 4 and second["lr"] == pytest.approx(0.001 * 2**0.5)
    assert second["verdict"] in ("equivalent", "different", "inconclusive", "diverged")
    for name in ("test_accuracy", "train_loss"):
        entry = second[name]
        low, high = entry["interval"]
        assert low <= entry["difference"] <= high
        assert entry["margin"] == pytest.approx(record["margins"][name])
