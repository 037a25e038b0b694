"""Schedules: phases continue each run, count updates per epoch, and "decay ε ≡ grow B"."""

import numpy as np
import pytest

from sgdsde.errors import ParameterRangeError
from sgdsde.learning import load_dataset
from sgdsde.scaling import Phase, compare_schedules, run_schedule, step_schedules
from sgdsde.surfaces import learned_surface


@pytest.fixture(scope="module")
def surface():
    dataset = load_dataset("mnist1d", n_train=1000, n_test=1000, seed=0)
    return learned_surface(dataset, "mlp", width=64)


def test_one_phase_is_plain_sgd_and_updates_are_counted_per_epoch(surface):
    """Updates are ⌊N/B⌋ per epoch, results are accuracies of finite runs, and bad phases are
    refused before compiling."""
    result = run_schedule(surface, [Phase(0.1, 30, 2)], runs=3, seed=4)
    assert result.updates == (2 * (1000 // 30),)
    assert not result.diverged.any()
    assert np.all((result.test_accuracy > 0.1) & (result.test_accuracy < 1.0))
    with pytest.raises(ParameterRangeError, match="epochs"):
        run_schedule(surface, [Phase(0.1, 30, 0)])
    with pytest.raises(ParameterRangeError, match="batch_size"):
        run_schedule(surface, [Phase(0.1, 2000, 1)])


def test_decaying_lr_and_growing_batch_reach_the_same_accuracy(surface):
    """Dividing ε by 2 at epochs 10 and 20, or multiplying B by 2 at the same epochs (B ≤ 40 ≪
    N = 1000): after 30 epochs the test accuracies of 8 paired runs agree within 4 standard
    errors of their paired difference, and growing B takes fewer updates (1750 vs 3000)."""
    schedules = step_schedules(0.2, 10, 2, 10)
    assert schedules["grow B"] == [Phase(0.2, 10, 10), Phase(0.2, 20, 10), Phase(0.2, 40, 10)]
    assert schedules["hybrid"] == [Phase(0.2, 10, 10), Phase(0.1, 10, 10), Phase(0.1, 20, 10)]
    record = compare_schedules(surface, {k: schedules[k] for k in ("decay ε", "grow B")}, runs=8)
    gap = record["differences"]["decay ε − grow B"]
    assert abs(gap["gap"]) < 4 * gap["stderr"]
    updates = {name: r["total_updates"] for name, r in record["schedules"].items()}
    assert updates == {"decay ε": 3000, "grow B": 1750}
