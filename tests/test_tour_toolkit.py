"""The tour's toolkit part: its five claims decided on hand-made records (the part itself runs
end to end in the slow test below and in ``sgdsde tour``)."""

from __future__ import annotations

import copy

import pytest

from sgdsde.tour import PARTS, ToolkitTourSettings, run_part, toolkit_claims


def _estimate(value, stderr):
    return {"value": value, "stderr": stderr}


def _gap(mean, stderr):
    return {"mean": mean, "stderr": stderr}


def _svag_row(lr, gap):
    losses = {"mean": [2.3, 2.0], "stderr": [0.0, 0.001]}
    return {"lr": lr, "svag": {"1": {"train_loss": losses}, "4": {"train_loss": losses}},
            "final_gaps": {"train_loss": {"svag": gap, "sde": _gap(0.0, 0.001)}}}


RECORD = {
    "noise_scale": {
        "steps": [0, 300], "pairs": 512, "small_batch": 8, "large_batch": 128,
        "exact": [[{"trace_cov": 6.0, "grad_sq_norm": 0.05, "b_simple": 120.0,
                    "b_noise": 50.0}] * 2],
        "estimate": [[{"trace_cov": _estimate(6.1, 0.1), "grad_sq_norm": _estimate(0.05, 0.001),
                       "b_simple": _estimate(122.0, 4.0)}] * 2],
    },
    "nqm": {
        "checks": {"m=0": {"z": [None, 1.0, -2.0], "lr": 1.5, "batch_size": 64, "paths": 400},
                   "m=0.9": {"z": [None, 0.5, 2.5], "lr": 1.1, "batch_size": 64,
                             "paths": 400}},
        "steps_to_target": {
            "m=0": {"batch_sizes": [1, 4], "best_steps": [5000.0, 1500.0],
                    "fit": {"b_crit": 15.0, "s_min": 330.0}},
            "m=0.9": {"batch_sizes": [1, 4], "best_steps": [4900.0, 1400.0],
                      "fit": {"b_crit": 220.0, "s_min": 23.0}}},
    },
    "svag": {"ells": [1, 4], "rows": [_svag_row(0.1, _gap(0.0005, 0.0007)),
                                      _svag_row(1.5, _gap(0.03, 0.007))]},
}


def test_every_claim_holds_on_a_record_that_meets_it():
    claims = toolkit_claims(RECORD)
    assert [c.name for c in claims] == [
        "noise_scale_estimate", "nqm_recursion", "nqm_momentum_b_crit", "svag_agrees_small_lr",
        "svag_separates_large_lr"]
    assert all(c.held for c in claims)


@pytest.mark.parametrize(("path", "value", "failed"), [
    (("noise_scale", "estimate", 0, 1, "trace_cov"), _estimate(7.0, 0.1), 0),
    (("nqm", "checks", "m=0.9", "z"), [None, 0.5, 3.6], 1),
    (("nqm", "steps_to_target", "m=0.9", "fit"), {"b_crit": 25.0, "s_min": 23.0}, 2),
    (("nqm", "steps_to_target", "m=0.9", "best_steps"), [3000.0, 1400.0], 2),
    (("svag", "rows", 0, "final_gaps", "train_loss", "svag"), _gap(0.0005, 0.004), 3),
    (("svag", "rows", 1, "final_gaps", "train_loss", "svag"), _gap(-0.03, 0.007), 4),
    (("svag", "rows", 1, "final_gaps", "train_loss", "svag"), _gap(0.01, 0.007), 4),
])
def test_each_claim_fails_when_its_test_does(path, value, failed):
    record = copy.deepcopy(RECORD)
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    held = [c.held for c in toolkit_claims(record)]
    assert held == [i != failed for i in range(5)]


def test_toolkit_is_a_registered_part():
    assert "toolkit" in PARTS


@pytest.mark.slow
def test_quick_part_runs_end_to_end():
    result = run_part("toolkit", quick=True)
    assert len(result.record["claims"]) == 5 and set(result.figures) == {
        "toolkit_noise_scale", "toolkit_nqm_pareto", "toolkit_nqm_loss", "toolkit_svag"}
    assert ToolkitTourSettings.quick().nqm_dim == 50
