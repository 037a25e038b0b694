"""``sgdsde learned``: help, JSON keys and shapes, table and figure, clean errors before
compilation. Every run is tiny (N = 200, width 16, a few steps and paths) so each test takes
seconds, most of it compilation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tolerances import assert_one_line_error
from typer.testing import CliRunner

from sgdsde.cli import app

runner = CliRunner()

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
TINY = ["--n-train", "200", "--n-test", "100", "--width", "16", "--paths", "4",
        "--budget", "updates", "--budget-amount", "20", "--substeps", "1",
        "--checkpoints", "3"]


def test_help():
    result = runner.invoke(app, ["learned", "--help"])
    assert result.exit_code == 0, result.output
    for text in ("Usage", "--dataset", "--width", "64", "--budget", "--sde-model", "--figure",
                 "optax"):
        assert text in result.output, text


def test_json_keys_and_shapes(tmp_path):
    figure = tmp_path / "new" / "folder" / "trajectories.png"
    result = runner.invoke(app, ["learned", "--dataset", "digits", *TINY, "--json",
                                 "--figure", str(figure)])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    assert {"lr", "momentum", "batch_size", "n_train", "paths", "seed", "sde_model",
            "sde_solver", "sde_substeps", "steps", "sgd", "sde", "sgd_minus_sde",
            "diverged_fraction", "device", "dataset", "surface", "budget", "noise_scale",
            "replacement", "sde_dt", "figure"} <= record.keys()
    assert record["steps"] == [0, 10, 20]
    for side in ("sgd", "sde", "sgd_minus_sde"):
        assert set(record[side]) == set(METRICS)
        for metric in METRICS:
            for stat in ("mean", "stderr"):
                assert np.asarray(record[side][metric][stat], float).shape == (3,), (side, metric)
    # both ensembles start from the same initialisation: no gap at step 0
    assert record["sgd_minus_sde"]["train_loss"]["mean"][0] == 0.0
    assert 0.0 <= min(record["sgd"]["test_accuracy"]["mean"]) <= 1.0
    assert record["dataset"]["name"] == "digits"
    assert record["dataset"]["n_train"] == 200 and record["dataset"]["n_test"] == 100
    # MLP 64 → 16 → 10: 64·16 + 16 + 16·10 + 10 parameters
    assert record["surface"] == {"model": "mlp", "width": 16, "l2": 0.0, "init_seed": 0,
                                 "dim": 1210, "dtype": "float32"}
    assert record["budget"] == {"kind": "updates", "amount": 20.0, "steps": 20,
                                "sde_time": pytest.approx(20 * 0.05)}
    assert record["noise_scale"] == pytest.approx(0.05 * (200 / 32 - 1))
    assert record["sde_solver"] == "euler" and record["sde_dt"] == pytest.approx(0.05)
    assert record["diverged_fraction"] == {"sgd": 0.0, "sde": 0.0}
    assert record["figure"] == str(figure)
    assert figure.read_bytes()[:8] == PNG
    assert not list(figure.parent.glob("*.tmp"))  # atomic write leaves no temporary file


def test_adam_against_its_sde(tmp_path):
    """--optimizer adam runs optax.adam and, by default, the Adam SDE; SGD's noise scale is
    not reported for it, and the epochs budget is the default."""
    result = runner.invoke(app, ["learned", "--dataset", "digits", *TINY[:8], "--substeps",
                                 "1", "--checkpoints", "2", "--budget-amount", "1",
                                 "--optimizer", "adam", "--hyper", "b2=0.99", "--lr", "0.001",
                                 "--json", "--figure", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["sde_model"] == "adam" and record["noise_scale"] is None
    assert record["optimizer"].startswith("optax.adam(lr=0.001, b1=0.9, b2=0.99")
    assert record["budget"]["kind"] == "epochs" and record["budget"]["steps"] == 200 // 32
    assert record["diverged_fraction"] == {"sgd": 0.0, "sde": 0.0}


def test_table_and_default_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [
        "learned", "--dataset", "breast_cancer", "--model", "logistic", *TINY,
        "--momentum", "0.5", "--sde-model", "underdamped", "--replacement",
    ])
    assert result.exit_code == 0, result.output
    for text in ("SGD vs underdamped on breast_cancer", "train loss", "test acc",
                 "SGD − SDE ± se", "with replacement"):
        assert text in result.stdout, text
    default = tmp_path / "results" / "learned" / "trajectories.png"
    assert "figure: results/learned/trajectories.png" in result.stdout
    assert default.read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--dataset", "cifar10"], ["dataset", "cifar10", "mnist1d"]),
        (["--model", "cnn"], ["model", "cnn", "logistic"]),
        (["--dataset", "digits", "--n-train", "5000"], ["n_train", "5000", "1438"]),
        (["--n-train", "200", "--batch-size", "201"], ["batch_size", "201", "n_train"]),
        (["--dataset", "digits", "--classes", "0,10"], ["classes", "10"]),
        (["--classes", "0,x"], ["--classes"]),
        (["--lr", "0"], ["lr"]),
        (["--lr", "-0.1"], ["lr"]),
        (["--momentum", "1"], ["momentum"]),
        (["--width", "0"], ["width"]),
        (["--l2", "-1"], ["l2"]),
        (["--n-test", "0"], ["n_test"]),
        (["--paths", "0"], ["paths"]),
        (["--substeps", "0"], ["substeps"]),
        (["--checkpoints", "1"], ["checkpoints"]),
        (["--budget", "weeks"], ["budget", "sde_time"]),
        (["--budget-amount", "0"], ["budget_amount"]),
        (["--sde-model", "sme3"], ["sde_model", "sme3"]),
        (["--sde-model", "sme2", "--momentum", "0.9"], ["sme2", "momentum"]),
        (["--solver", "shark"], ["shark", "euler"]),
        (["--dataset", "mnist"], ["--idx-dir"]),
        (["--dataset", "teacher_student", "--classes", "0,1"], ["--classes"]),
        (["--optimizer", "adagrad"], ["optimizer", "adagrad", "adam"]),
        (["--optimizer", "adam", "--hyper", "b9=1"], ["b9", "b2"]),
        (["--optimizer", "adam", "--hyper", "b1=1.5"], ["b1", "[0, 1)"]),
        (["--optimizer", "adam", "--hyper", "b1"], ["--hyper"]),
        (["--optimizer", "adam", "--momentum", "0.9"], ["momentum", "adam"]),
        (["--optimizer", "adam", "--budget", "sde_time"], ["--budget", "epochs"]),
        (["--optimizer", "adam", "--sde-model", "sme1"], ["sme1", "adam"]),
        (["--optimizer", "rmsprop"], ["rmsprop", "bias_correction"]),
    ],
)
def test_bad_inputs_fail_cleanly_before_compiling(no_compilation, tmp_path, args, names):
    result = runner.invoke(app, ["learned", "--json", "--figure", str(tmp_path / "f.png"),
                                 *args])
    assert_one_line_error(result, names)
    assert not (tmp_path / "f.png").exists()


def test_missing_idx_files_and_unwritable_figure(no_compilation, tmp_path):
    result = runner.invoke(app, ["learned", "--dataset", "mnist", "--idx-dir",
                                 str(tmp_path / "nowhere"), "--figure", str(tmp_path / "f.png")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "nowhere" in result.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["learned", "--dataset", "digits", "--n-train", "200",
                                 "--figure", str(blocker / "f.png")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --figure=") and "\n" not in result.stderr.strip()
    result = runner.invoke(app, ["learned", "--dataset", "digits", "--n-train", "200",
                                 "--figure", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.stderr


@pytest.mark.parametrize(
    ("mean", "se", "text"),
    [(0.16371, 0.00087, "0.1637 ± 0.0009"), (0.0053, 0.0021, "0.0053 ± 0.0021"),
     (-0.0001, 0.005, "0.000 ± 0.005"), (123.4, 25.0, "123 ± 25"), (2.34, 0.0, "2.34 ± 0"),
     (0.5, None, "0.5"), (None, 0.1, "NaN")],
)
def test_format_pm(mean, se, text):
    from sgdsde.cli._common import format_pm

    assert format_pm(mean, se) == text
