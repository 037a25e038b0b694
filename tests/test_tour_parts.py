"""The tour's parts: packaged configs, and the claim logic of each part on hand-made records
(the parts themselves run end to end in test_cli.py and in the main job)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sgdsde.scaling import parse_config
from sgdsde.tour import (
    COLLAPSE_BOUND,
    PARTS,
    check_parts,
    learned_claims,
    scaling_claims,
    sweep_text,
)

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def test_the_tour_sweeps_the_experiments_small_grid():
    tour = parse_config(tomllib.loads(sweep_text("tour_sweep.toml")))
    small = parse_config(tomllib.loads((EXPERIMENTS / "sweeps" / "small.toml").read_text()))
    assert tour == small
    quick = parse_config(tomllib.loads(sweep_text("tour_sweep_quick.toml")))
    assert len(quick.lrs) >= 2 and len(quick.batch_sizes) >= 3


def test_parts_are_returned_in_tour_order():
    assert check_parts(["evidence", "quadratic"]) == ("quadratic", "evidence")
    assert check_parts(list(PARTS)) == tuple(PARTS)


def _gap(mean, stderr):
    return {"mean": mean, "stderr": stderr}


def _learned_record(mlp_large_gap, diverged=0.0):
    rows = []
    for model in ("logistic", "mlp"):
        for lr in (0.03, 1.0):
            gap = mlp_large_gap if lr == 1.0 else _gap(0.001, 0.001)
            rows.append({
                "model": model, "lr": lr,
                "final": {"train_loss": {"gap": gap}, "test_accuracy": {"gap": _gap(0, 0.01)}},
                "comparison": {"diverged_fraction": {"sgd": diverged, "sde": 0.0}},
            })
    return {"settings": {"lrs": (0.03, 1.0), "noise_scale": 2.0}, "rows": rows}


@pytest.mark.parametrize(("gap", "diverged", "held"), [
    (_gap(0.05, 0.01), 0.0, True),     # z = 5 > 2.33
    (_gap(0.02, 0.01), 0.0, False),    # z = 2 < 2.33
    (_gap(-0.05, 0.01), 0.0, False),   # SGD *below* its SME is not the predicted breakdown
    (_gap(None, None), 1.0, True),     # every SGD path diverged: the SDE does not describe it
])  # the logistic contrast at large ε gets the same gap (diverged included)
def test_learned_breakdown_claim(gap, diverged, held):
    agree, breakdown = learned_claims(_learned_record(gap, diverged))
    assert agree.held  # every small-ε gap is 1 se
    assert breakdown.held is held


def _scaling_record(fit, in_g, in_b, schedule_gap=0.001):
    return {
        "analysis": {"fits": {"lr": fit} if fit else {}, "fit_errors": {},
                     "collapse": {"score": in_g}, "collapse_in_b": {"score": in_b}},
        "schedules": {"runs": 8, "schedules": {"decay ε": {"total_updates": 3000},
                                               "grow B": {"total_updates": 1750}},
                      "differences": {"decay ε − grow B": {"gap": schedule_gap,
                                                          "stderr": 0.002}}},
    }


FIT = {"slope": 1.02, "ci_low": 0.99, "ci_high": 1.05, "n_slices": 7, "excluded": [],
       "theory_in_interval": True}


def test_scaling_claims():
    slope, collapse, schedule = scaling_claims(_scaling_record(FIT, 0.5, 10.0))
    assert slope.held and collapse.held and schedule.held
    assert "half-width 0.03" in slope.measured
    missing, _, _ = scaling_claims(_scaling_record(None, 0.5, 10.0))
    assert not missing.held and "no fit" in missing.measured
    _, no_collapse, _ = scaling_claims(_scaling_record(FIT, COLLAPSE_BOUND + 1, 10.0))
    _, not_b, _ = scaling_claims(_scaling_record(FIT, 0.5, COLLAPSE_BOUND - 1))
    assert not no_collapse.held and not not_b.held
    _, undefined, _ = scaling_claims(_scaling_record(FIT, None, None))  # < 2 curves overlap
    assert not undefined.held and "n/a" in undefined.measured
    _, _, unequal = scaling_claims(_scaling_record(FIT, 0.5, 10.0, schedule_gap=0.01))
    assert not unequal.held  # 5 se > 2.81


def test_tour_save_writes_the_report_and_strict_json(tmp_path):
    """The library produces the report: Tour.save writes results.json (NaN as null) and a
    report whose claims table counts what held, without any CLI."""
    import json
    import math

    from sgdsde.plots import subplots
    from sgdsde.tour import PartResult, Tour

    claims = [{"name": "a", "statement": "s|1", "predicted": "p", "measured": "m", "held": True,
               "test": "t"},
              {"name": "b", "statement": "s2", "predicted": "p", "measured": "m", "held": False,
               "test": "t"}]
    figure, _ = subplots(figsize=(2, 2))
    part = PartResult("learned", {"title": "T", "claims": claims, "seconds": 1.0,
                                  "value": math.nan}, {"fig": figure}, ["body line"])
    tour = Tour((part,), 1.5, "cpu:cpu", {"python": "3"})
    report = tour.save(tmp_path / "out")
    text = report.read_text()
    assert report.name == "report.md" and "**1 of 2 claims held.**" in text
    assert "s\\|1" in text and "body line" in text and "![fig.png](fig.png)" in text
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["sections"]["learned"]["value"] is None and record["device"] == "cpu:cpu"
    assert (tmp_path / "out" / "fig.png").stat().st_size > 0 and not tour.all_held
