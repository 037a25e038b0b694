"""Noise and flatness: the curvature the study reports is the exact Hessian's, recomputed
independently, and the summary counts what it averages."""

import jax
import numpy as np

from sgdsde import RunConfig, simulate_sgd
from sgdsde.evidence import flatness_study, summed_cost
from sgdsde.learning import load_dataset
from sgdsde.surfaces import learned_surface


def test_flatness_study_reports_the_exact_hessian_trace_of_each_end_point():
    dataset = load_dataset("digits", n_train=40, n_test=40, classes=(0, 1), seed=0)
    points = flatness_study(dataset, [4, 20], lr=0.05, sde_time=1.5, seeds=2, width=4)
    surface = learned_surface(dataset, "mlp", width=4, seed=0, dtype=np.float64)
    run = RunConfig(lr=0.05, batch_size=4, n_train=40, steps=30, paths=2, seed=0)
    end_point = simulate_sgd(surface, run, save_steps=(30,)).final[0]
    cost = summed_cost(surface, 1.0)
    expected = np.trace(np.asarray(jax.hessian(cost)(end_point)))
    np.testing.assert_allclose(points[0].hessian_trace[0], expected, rtol=1e-8)
    summary = points[1].summary()
    assert summary["batch_size"] == 20 and summary["noise_scale"] == 0.05 * (40 / 20 - 1)
    assert summary["hessian_trace"]["n"] == 2
    # the same SDE time at every B: the same updates, so B = 20 sees five times the epochs
    assert points[0].updates == points[1].updates == 30
    assert points[1].epochs == 5 * points[0].epochs == 15.0
    assert summary["train_loss"]["n"] == 2
    assert 0.0 <= summary["positive_definite_fraction"] <= 1.0
