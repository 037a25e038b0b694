"""The ``sgdsde`` command: help, JSON output, clean errors before compilation, the tour."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tolerances import assert_one_line_error
from typer.testing import CliRunner

from sgdsde.cli import app

runner = CliRunner()

REQUIRED_KEYS = {
    "hessian", "noise_cov", "lr", "momentum", "batch_size", "n_train", "noise_scale", "sgd_cov",
    "sgd_cov_stderr", "sde_cov", "sde_cov_stderr", "theory_sgd_cov", "theory_sde_cov",
    "diverged_fraction",
}
TINY = ["--paths", "64", "--steps", "20", "--substeps", "1"]


@pytest.mark.parametrize("command", [[], ["quadratic"], ["tour"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    if command:
        assert "optax" in result.output  # the conventions are part of every help page


def test_quadratic_json_has_required_keys_and_shapes():
    result = runner.invoke(
        app, ["quadratic", "--json", *TINY, "--n-train", "100", "--batch-size", "4"]
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    assert REQUIRED_KEYS <= record.keys()
    for key in ("hessian", "noise_cov", "sgd_cov", "sgd_cov_stderr", "sde_cov",
                "sde_cov_stderr", "theory_sgd_cov", "theory_sde_cov"):
        assert np.asarray(record[key], dtype=float).shape == (3, 3), key
    assert record["lr"] == 0.1 and record["batch_size"] == 4 and record["n_train"] == 100
    # g = ε(N/B − 1)/(1 − m)
    assert record["noise_scale"] == pytest.approx(0.1 * (100 / 4 - 1))
    assert record["diverged_fraction"] == {"sgd": 0.0, "sde": 0.0}
    noise = np.asarray(record["noise_cov"])
    hessian = np.asarray(record["hessian"])
    assert not np.allclose(hessian @ noise, noise @ hessian)  # rotated by default


def test_quadratic_aligned_dim_and_eigs():
    result = runner.invoke(app, ["quadratic", "--json", *TINY, "--aligned",
                                 "--hessian-eigs", "1,2", "--noise-eigs", "0.5,0.25"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    np.testing.assert_allclose(record["noise_cov"], np.diag([0.5, 0.25]))
    np.testing.assert_allclose(record["hessian"], np.diag([1.0, 2.0]))


def test_quadratic_table_output():
    result = runner.invoke(app, ["quadratic", *TINY])
    assert result.exit_code == 0, result.stderr
    assert "discrete" in result.stdout and "(3,3)" in result.stdout


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--lr", "0"], ["lr"]),
        (["--lr", "-0.1"], ["lr"]),
        (["--batch-size", "10", "--n-train", "5"], ["batch_size", "n_train"]),
        (["--momentum", "1"], ["momentum"]),
        (["--hessian-eigs", "1,-1,2"], ["hessian"]),
        (["--noise-eigs", "1,-1,2"], ["noise"]),
        (["--hessian-eigs", "1,x,2"], ["--hessian-eigs"]),
        (["--hessian-eigs", "1,2", "--noise-eigs", "1,2,3"], ["--noise-eigs"]),
        (["--dim", "0"], ["--dim"]),
        (["--steps", "0"], ["steps"]),
        (["--paths", "0"], ["paths"]),
        (["--substeps", "0"], ["substeps"]),
        (["--lr", "1.0"], ["lr", "--allow-unstable"]),  # λ_max = 2.5: stable iff ε < 0.8
        (["--model", "sme3"], ["model"]),
        (["--model", "sme2", "--momentum", "0.9"], ["sme2", "momentum"]),
        (["--solver", "nope"], ["solver"]),
        (["--brownian", "nope"], ["brownian"]),
    ],
)
def test_bad_inputs_fail_cleanly_before_compiling(no_compilation, args, names):
    result = runner.invoke(app, ["quadratic", "--json", *args])
    assert_one_line_error(result, names)


@pytest.mark.parametrize("parts", ["quadratic,sde", ",", "scaling,Evidence"])
def test_tour_rejects_unknown_parts_before_running_anything(no_compilation, tmp_path, parts):
    result = runner.invoke(app, ["tour", "--parts", parts, "--out", str(tmp_path / "t")])
    assert_one_line_error(result, ["part", "quadratic, learned, scaling, evidence"])
    assert not (tmp_path / "t").exists()


def test_allow_unstable_records_divergence_as_null():
    # ε·λ_max = 2.5 > 2: |1 − εh| = 1.5 per step, past the divergence bound well within 100.
    result = runner.invoke(app, ["quadratic", "--json", "--lr", "1.0", "--allow-unstable",
                                 "--paths", "32", "--steps", "100", "--substeps", "4"])
    assert result.exit_code == 0, result.stderr
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    record = json.loads(result.stdout)
    assert record["diverged_fraction"]["sgd"] == 1.0
    assert record["sgd_cov"] == [[None] * 3] * 3
    assert record["sgd_cov_stderr"] == [[None] * 3] * 3
    assert record["w2_sgd_sde"] is None
    # the SDE is stable at any ε (solved with dt·λ_max = 0.625): its statistics stay numbers
    assert record["diverged_fraction"]["sde"] == 0.0
    assert all(isinstance(x, float) for row in record["sde_cov"] for x in row)


def test_tour_quick_writes_one_report_results_and_figures(tmp_path):
    out = tmp_path / "tour"
    result = runner.invoke(app, ["tour", "--quick", "--parts", "evidence,quadratic",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.stdout
    report = (out / "report.md").read_text()
    assert "## Claims" in report and "device" in report
    # one report, the parts in tour order whatever order they were asked in
    assert report.index("## SGD and its SDEs") < report.index("## Bayesian evidence")
    record = json.loads((out / "results.json").read_text())
    assert {"sections", "seconds", "wall_seconds", "device", "environment"} <= record.keys()
    assert list(record["sections"]) == ["quadratic", "evidence"]
    quadratic = record["sections"]["quadratic"]
    assert {"settings", "comparisons", "stationary_gap_scaling", "weak_gap_scaling",
            "claims"} <= quadratic.keys()
    claims = [c for part in record["sections"].values() for c in part["claims"]]
    assert len(claims) >= 13
    assert all(isinstance(claim["held"], bool) for claim in claims)
    assert report.count("✅") + report.count("❌") == len(claims)
    for name in ("covariance_plain", "covariance_momentum", "stationary_gap", "weak_gap",
                 "evidence_labels", "flatness"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"]({name}.png)" in report
    assert not list(out.glob("*.tmp"))  # atomic writes leave no temporary files
