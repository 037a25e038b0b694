"""``sgdsde noise-scale``, ``sgdsde nqm`` and ``sgdsde svag``: one JSON object with the documented
keys, figures written, and one-line errors before anything is loaded or compiled."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tolerances import assert_one_line_error
from typer.testing import CliRunner

from sgdsde.cli import app

runner = CliRunner()

NQM_KEYS = {"h", "c", "theta0", "lr", "momentum", "batch_sizes", "steps", "predicted_loss",
            "measured_loss", "measured_loss_stderr"}


def test_noise_scale_json(tmp_path):
    figure = tmp_path / "ns.png"
    result = runner.invoke(app, [
        "noise-scale", "--json", "--n-train", "80", "--n-test", "20", "--width", "4",
        "--steps", "10", "--checkpoints", "2", "--pairs", "16", "--large-batch", "32",
        "--figure", str(figure)])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["steps"] == [0, 10] and len(record["exact"][0]) == 2
    point = record["exact"][0][0]
    assert point["b_simple"] == pytest.approx(point["trace_cov"] / point["grad_sq_norm"])
    assert {"value", "stderr"} <= record["estimate"][0][1]["b_simple"].keys()
    assert figure.exists()


def test_nqm_json_holds_the_documented_arrays(tmp_path):
    result = runner.invoke(app, [
        "nqm", "--json", "--dim", "20", "--batch-sizes", "1,8,64", "--steps", "30",
        "--checkpoints", "4", "--paths", "50", "--target", "0.3", "--no-sde",
        "--figure", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert NQM_KEYS <= record.keys()
    assert len(record["h"]) == len(record["c"]) == len(record["theta0"]) == 20
    assert record["batch_sizes"] == [1, 8, 64] and record["steps"] == [0, 10, 20, 30]
    for key in ("predicted_loss", "measured_loss", "measured_loss_stderr"):
        assert np.asarray(record[key], float).shape == (3, 4), key
    assert record["predicted_loss"][0][0] == pytest.approx(10.0)  # ½Σh_iθ_i² = d/2
    assert set(record["critical_batch_size"]) == {"m=0", "m=0.9"}
    assert (tmp_path / "nqm_loss.png").exists() and (tmp_path / "nqm_pareto.png").exists()


def test_svag_json(tmp_path):
    result = runner.invoke(app, [
        "svag", "--json", "--n-train", "60", "--n-test", "20", "--width", "4", "--lrs", "0.5",
        "--ells", "1,2", "--batch-size", "10", "--sde-time", "1", "--paths", "2",
        "--checkpoints", "2", "--no-sde", "--figure", str(tmp_path / "svag.png")])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["ells"] == [1, 2] and record["rows"][0]["sde"] is None
    assert set(record["rows"][0]["svag"]) == {"1", "2"}


@pytest.mark.parametrize(("args", "names"), [
    (["svag", "--ells", "0,1"], ["ells"]),
    (["svag", "--ells", "1,1.5"], ["ells"]),
    (["svag", "--lrs", "0.1,-1"], ["lrs"]),
    (["noise-scale", "--small-batch", "64", "--large-batch", "8"], ["small_batch"]),
    (["noise-scale", "--pairs", "1"], ["pairs"]),
    (["noise-scale", "--batch-size", "900", "--n-train", "100"], ["batch_size"]),
    (["noise-scale", "--dataset", "cifar"], ["dataset"]),
    (["nqm", "--lr", "5"], ["lr", "2(1+m)/max h"]),
    (["nqm", "--target", "1.5"], ["target"]),
    (["nqm", "--batch-sizes", "0,4"], ["batch_sizes"]),
    (["nqm", "--momenta", "0,1.2"], ["momentum"]),
])
def test_bad_options_are_one_line_errors(no_compilation, args, names):
    assert_one_line_error(runner.invoke(app, args), names)
