"""The critical batch size: the fit S = S_min(1 + B_crit/B) (exact recovery, interval coverage
measured by simulation at the noise level of the data), steps to target measured on SGD
ensembles of a learned surface, targets never reached reported as such, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sgdsde
from sgdsde.errors import ParameterRangeError, UnknownNameError
from sgdsde.scaling import critical_batch_study, fit_critical_batch

SIZES = np.array([4, 8, 16, 32, 64, 128, 256, 512])


def test_fit_recovers_an_exact_pareto_curve():
    steps = 300.0 * (1.0 + 40.0 / SIZES)
    fit = fit_critical_batch(SIZES, steps)
    assert fit.b_crit == pytest.approx(40.0, rel=1e-10)
    assert fit.s_min == pytest.approx(300.0, rel=1e-10)
    assert fit.e_min == pytest.approx(12000.0, rel=1e-10)
    assert fit.relative_rms < 1e-12 and fit.b_crit_interval is None


def test_fit_interval_covers_the_truth_at_its_nominal_rate():
    """200 simulated measurements, S_j = S(B_j)(1 + 5 % noise): the 95 % bootstrap interval of
    B_crit covers the true 40 in at least 88 % (a binomial 1e-4 lower bound for 95 % coverage
    over 200 draws is ≈ 89 %), seeded."""
    rng = np.random.default_rng(0)
    truth = 300.0 * (1.0 + 40.0 / SIZES)
    se = 0.05 * truth
    covered = 0
    for draw in range(200):
        fit = fit_critical_batch(SIZES, truth + se * rng.standard_normal(SIZES.size), se,
                                 n_boot=400, seed=draw)
        covered += fit.b_crit_interval[0] <= 40.0 <= fit.b_crit_interval[1]
    assert covered >= stats.binom.ppf(1e-4, 200, 0.95) - 1


def test_fit_needs_three_reached_batch_sizes():
    with pytest.raises(ParameterRangeError, match="steps"):
        fit_critical_batch([4, 8, 16], [100.0, np.nan, 30.0])


@pytest.fixture(scope="module")
def surface():
    data = sgdsde.load_dataset("mnist1d", n_train=200, n_test=50, seed=0)
    return sgdsde.learned_surface(data, "logistic", seed=0)


def test_measured_steps_fall_with_b_and_the_tuned_lr_grows(surface):
    """Logistic regression on MNIST-1D, train loss to 1.9 (from 2.3): fewer steps at larger B,
    the tuned ε does not fall, every cell reached, and a fit with an interval."""
    result = critical_batch_study(surface, [2, 8, 32, 128], [0.03, 0.1, 0.3, 1.0], target=1.9,
                                  max_steps=3000, paths=3, checkpoints=24)
    steps = result.best_steps
    assert np.all(np.isfinite(steps)) and np.all(np.diff(steps) < 0)
    assert np.all(np.diff(result.best_lr) >= 0)
    record = result.to_dict()
    assert record["reached"] == [True] * 4 and record["fit"]["b_crit_interval"] is not None
    assert record["best_examples"] == pytest.approx(list(steps * np.array([2, 8, 32, 128])))


def test_unreachable_targets_are_reported_not_extrapolated(surface):
    result = critical_batch_study(surface, [8, 32], [0.1], target=0.0, max_steps=50, paths=2,
                                  checkpoints=6)
    assert np.all(np.isnan(result.best_steps)) and result.fit is None
    assert result.to_dict()["reached"] == [False, False]


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    (dict(batch_sizes=[8, 500]), ParameterRangeError, "batch_sizes"),
    (dict(lrs=[]), ParameterRangeError, "lrs"),
    (dict(lrs=[0.1, -1.0]), ParameterRangeError, "lrs"),
    (dict(metric="accuracy"), UnknownNameError, "metric"),
    (dict(paths=1), ParameterRangeError, "paths"),
    (dict(max_steps=0), ParameterRangeError, "max_steps"),
])
def test_bad_input_is_refused_before_compilation(surface, monkeypatch, kwargs, error, name):
    import sgdsde.scaling._critical_batch as module

    monkeypatch.setattr(module, "_group_trajectories", lambda *a, **k: pytest.fail("compiled"))
    options = dict(batch_sizes=[8, 32], lrs=[0.1], target=1.0, max_steps=10)
    with pytest.raises(error, match=name):
        critical_batch_study(surface, **{**options, **kwargs})
