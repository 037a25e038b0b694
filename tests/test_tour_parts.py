"""The tour's parts: packaged configs, and the claim logic of each part on hand-made records
(the parts themselves run end to end in test_cli.py and in the main job)."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest
from scipy import stats

from sgdsde.scaling import parse_config
from sgdsde.tour import (
    PARTS,
    ScalingTourSettings,
    check_parts,
    learned_claims,
    scaling_claims,
    sweep_text,
    tour_sweep,
)

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def test_the_tour_sweeps_the_experiments_small_grid_with_eight_seeds():
    tour = parse_config(tomllib.loads(sweep_text("tour_sweep.toml")))
    small = parse_config(tomllib.loads((EXPERIMENTS / "sweeps" / "small.toml").read_text()))
    assert tour == dataclasses.replace(small, seeds=tuple(range(8)))
    quick = parse_config(tomllib.loads(sweep_text("tour_sweep_quick.toml")))
    assert len(quick.lrs) >= 2 and len(quick.batch_sizes) >= 3
    assert tour_sweep(ScalingTourSettings(seed=0)) == tour
    other = tour_sweep(ScalingTourSettings(seed=2))
    assert other.seeds == tuple(range(16, 24)) and other.lrs == small.lrs


def test_parts_are_returned_in_tour_order():
    assert check_parts(["evidence", "quadratic"]) == ("quadratic", "evidence")
    assert check_parts(list(PARTS)) == tuple(PARTS)


def _gap(mean, stderr):
    return {"mean": mean, "stderr": stderr}


def _learned_record(mlp_large_gap, diverged=0.0, dt_shift=1e-5):
    rows = []
    for model in ("logistic", "mlp"):
        for lr in (0.03, 1.0):
            gap = mlp_large_gap if lr == 1.0 else _gap(0.001, 0.001)
            sde = {"mean": 1.0, "stderr": 0.001}
            rows.append({
                "model": model, "lr": lr,
                "final": {"train_loss": {"gap": gap, "sde": sde},
                          "test_accuracy": {"gap": _gap(0, 0.01), "sde": sde}},
                "comparison": {"diverged_fraction": {"sgd": diverged, "sde": 0.0}},
                "dt_check": None if lr == 1.0 else {
                    name: {"shift": dt_shift, "stderr": 1e-5}
                    for name in ("train_loss", "test_accuracy")},
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
    assert agree.held  # every small-ε gap is 1 se, the SDE converged in dt
    assert breakdown.held is held


def test_learned_agreement_needs_a_dt_converged_sde():
    """Halving dt moved the SDE's final numbers by as much as their own standard error (the
    shift's bound exceeds it): the agreement is not claimed."""
    agree, _ = learned_claims(_learned_record(_gap(0.05, 0.01), dt_shift=0.001))
    assert not agree.held and "dt halved" in agree.measured


def _collapse(spread, se=0.001, margin=0.02):
    """A collapse record as collapse_in_g writes it at the tour's α/2 = 0.005 (4 seeds:
    bounds spread ± 5.84·se; None when fewer than two curves overlap)."""
    t = float(stats.t.isf(0.005, 3))
    low, high = (math.nan, math.nan) if spread is None else (spread - t * se, spread + t * se)
    return {"spread": spread, "spread_se": se, "n_seeds": 4, "margin": margin, "score": 1.0,
            "permutation_mean": 1.2, "spread_low": low, "spread_high": high,
            "collapsed": bool(high < margin), "separated": bool(low > margin)}


def _scaling_record(fit, p_value=0.5, in_g=0.005, in_b=0.05, schedule_gap=0.001):
    return {
        "analysis": {
            "fits": {"lr": fit} if fit else {}, "errors": {} if fit else {"lr": "no slice"},
            "g_opt": {"g_opt": 13.0, "ci_low": 12.0, "ci_high": 14.0, "p_value": p_value,
                      "replicates": 200} if fit else None,
            "coverage": {"rates": {"b_opt": {"rate": 0.95, "stderr": 0.01}}},
            "collapse": _collapse(in_g), "collapse_in_b": _collapse(in_b)},
        "schedules": {"runs": 8,
                      "schedules": {"decay ε": {"total_updates": 3000, "final_sd": 0.015},
                                    "grow B": {"total_updates": 1750}},
                      "differences": {"decay ε − grow B": {"gap": schedule_gap,
                                                          "stderr": 0.002, "pairs": 8}}},
    }


FIT = {"slope": 0.99, "ci_low": 0.93, "ci_high": 1.05, "slope_se": 0.02, "n_slices": 7,
       "excluded": [], "predicted_slope": 0.976, "n_seeds": 4, "confidence": 0.95}


def test_scaling_claims():
    """The claims' logic on hand-made records: the law holds when the goodness of fit passes
    and the slope equals the predicted one within ±0.25 by TOST (0.014 + 5.84·0.02 = 0.13);
    the collapse is an equivalence on both axes; the schedules are equivalent within one run's
    sd by TOST."""
    law, collapse, schedule = scaling_claims(_scaling_record(FIT))
    assert law.held and collapse.held and schedule.held
    assert "0.976" in law.predicted and "g_opt = 13" in law.measured
    missing, _, _ = scaling_claims(_scaling_record(None))
    assert not missing.held and "no fit" in missing.measured
    rejected, _, _ = scaling_claims(_scaling_record(FIT, p_value=0.001))
    off, _, _ = scaling_claims(_scaling_record({**FIT, "slope": 1.2}))  # 0.224 + 0.117
    vague, _, _ = scaling_claims(_scaling_record({**FIT, "slope_se": 0.1}))  # cannot tell
    assert not rejected.held and not off.held and not vague.held
    _, spread_in_g, _ = scaling_claims(_scaling_record(FIT, in_g=0.015))  # 0.015 + 5.8·0.001
    _, close_in_b, _ = scaling_claims(_scaling_record(FIT, in_b=0.022))
    assert not spread_in_g.held and not close_in_b.held
    _, undefined, _ = scaling_claims(_scaling_record(FIT, in_g=None))  # < 2 curves overlap
    assert not undefined.held and "n/a" in undefined.measured
    _, _, unequal = scaling_claims(_scaling_record(FIT, schedule_gap=0.01))
    assert not unequal.held  # 0.01 + 4.03·0.002 = 0.018 > 0.015
    _, _, tiny_but_real = scaling_claims(_scaling_record(FIT, schedule_gap=0.004))
    assert tiny_but_real.held  # resolved (2 se) yet far inside the margin: equivalent


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
