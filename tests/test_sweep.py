"""``sgdsde sweep``: config validation, expansion, run ids, resumability after SIGKILL,
divergence, refusing a different config, and the sharded path (4 host devices)."""

import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sgdsde.cli import app
from sgdsde.errors import SweepConfigError, SweepDirError
from sgdsde.scaling import (
    batch_id,
    expand,
    parse_config,
    plan_batches,
    prepare_out,
    store,
)

runner = CliRunner()

BASE = """
[data]
dataset = "digits"
n_test = 100
seed = 0

[model]
name = "logistic"

[grid]
lrs = [0.05, 0.2]
batch_sizes = [4, 8, 16]
n_trains = [200]
seeds = [0, 1, 2]

[budget]
kind = "updates"
amount = 30

[eval]
checkpoints = 4
"""
METRICS = ("final_test_accuracy", "best_test_accuracy", "best_step", "final_test_loss",
           "final_train_loss", "final_train_accuracy", "diverged", "updates", "noise_scale")
DRIVER = ("import sys; from sgdsde.cli import app; "
          "app(args=sys.argv[1:], prog_name='sgdsde')")


def raw(text: str = BASE) -> dict:
    return tomllib.loads(text)


def with_change(section: str, key: str, value) -> dict:
    document = raw()
    document.setdefault(section, {})[key] = value
    return document


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(("section", "key", "value", "named"), [
    ("grid", "learning_rates", [0.1], "grid.learning_rates"),
    ("grid", "lrs", [0.1, -1.0], "grid.lrs"),
    ("grid", "lrs", [], "grid.lrs"),
    ("grid", "lrs", 0.1, "grid.lrs"),
    ("grid", "batch_sizes", [4, 500], "grid.batch_sizes"),
    ("grid", "momenta", [1.0], "grid.momenta"),
    ("grid", "seeds", [0, 0], "grid.seeds"),
    ("grid", "replacement", "yes", "grid.replacement"),
    ("data", "dataset", "cifar", "data.dataset"),
    ("data", "n_test", 0, "data.n_test"),
    ("model", "name", "resnet", "model.name"),
    ("model", "width", 0, "model.width"),
    ("model", "l2", -1.0, "model.l2"),
    ("budget", "kind", "hours", "budget.kind"),
    ("budget", "amount", 0, "budget.amount"),
    ("eval", "checkpoints", 1, "eval.checkpoints"),
    ("eval", "bogus", 1, "eval.bogus"),
    ("extra", "x", 1, "extra"),
])
def test_bad_config_names_the_key(section, key, value, named):
    with pytest.raises(SweepConfigError, match=f"config key {named}[: ]"):
        parse_config(with_change(section, key, value))


def test_missing_key_named():
    document = raw()
    del document["grid"]["seeds"]
    with pytest.raises(SweepConfigError, match="grid.seeds: is missing"):
        parse_config(document)


def test_cli_config_error_is_one_line_exit_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(BASE.replace("lrs = [0.05, 0.2]", "lrs = [0.05, 0.2]\nlr = 3"))
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip()] and "error: config key grid.lr:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_expansion_count_and_batches():
    config = parse_config(raw())
    runs = expand(config)
    assert len(runs) == 2 * 3 * 1 * 1 * 3
    assert len({r.run_id for r in runs}) == len(runs)
    batches = plan_batches(runs, config.max_batch)
    assert len(batches) == 3  # one per batch size: every ε and seed share 30 updates
    assert all(len(b) == 6 for b in batches)
    assert len(plan_batches(runs, 4)) == 6


def test_sde_time_groups_by_updates():
    document = with_change("budget", "kind", "sde_time")
    document["budget"]["amount"] = 2.0
    runs = expand(parse_config(document))
    assert sorted({r.updates for r in runs}) == [10, 40]  # 2/0.2 and 2/0.05
    batches = plan_batches(runs, 1024)
    assert len(batches) == 6 and all(len({r.updates for r in b}) == 1 for b in batches)
    assert all(r.sde_time == pytest.approx(2.0) for r in runs)


def test_run_id_stable():
    first = expand(parse_config(raw()))[0]
    again = expand(parse_config(raw()))[0]
    assert first.run_id == again.run_id
    assert first.run_id == "69a00634d99ae729"  # pinned: changing it orphans old results
    other = expand(parse_config(with_change("model", "l2", 1e-4)))[0]
    assert other.run_id != first.run_id
    assert batch_id([first]) == batch_id([again])


def test_noise_scale_column():
    run = expand(parse_config(with_change("grid", "momenta", [0.5])))[0]
    assert run.noise_scale == pytest.approx(run.lr / 0.5 * (200 / run.batch_size - 1))


# ------------------------------------------------------------------------ output folder


def test_different_config_refused(tmp_path):
    out = tmp_path / "out"
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(BASE)
    second.write_text(BASE.replace("amount = 30", "amount = 40"))
    prepare_out(out, parse_config(raw()), BASE)
    prepare_out(out, parse_config(raw()), BASE + "\n# a comment\n")  # same config: fine
    result = runner.invoke(app, ["sweep", str(second), "--out", str(out)])
    assert result.exit_code == 2
    assert "different sweep" in result.stderr and "budget_amount" in result.stderr
    with pytest.raises(SweepDirError):
        prepare_out(out, parse_config(raw(second.read_text())), second.read_text())
    prepare_out(out, parse_config(raw(second.read_text())), second.read_text(), force=True)
    assert (out / "sweep.toml").read_text() == second.read_text()


# ------------------------------------------------------------------------ running


def run_cli(config: Path, out: Path, *extra: str, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, "sweep", str(config), "--out",
                           str(out), *extra], capture_output=True, text=True, timeout=timeout,
                          env=env or cpu_env())


def cpu_env(devices: int = 1) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def metric_rows(out: Path) -> dict:
    return {row["run_id"]: {k: row[k] for k in METRICS} for row in store.rows(out)}


def assert_rows_equal(actual: dict, expected: dict, rel: float = 0.0) -> None:
    assert actual.keys() == expected.keys()
    for run_id, row in expected.items():
        for key, value in row.items():
            got = actual[run_id][key]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got), (run_id, key)
            elif isinstance(value, float):
                assert got == pytest.approx(value, rel=rel, abs=rel), (run_id, key)
            else:
                assert got == value, (run_id, key)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted sweep (one subprocess, one CPU device)."""
    folder = tmp_path_factory.mktemp("reference")
    config = folder / "sweep.toml.in"
    config.write_text(BASE)
    result = run_cli(config, folder / "out")
    assert result.returncode == 0, result.stderr
    assert "18/18" in result.stderr
    return config, folder / "out"


def test_sweep_writes_one_row_per_run(reference):
    _, out = reference
    rows = store.rows(out)
    assert len(rows) == 18 and len(store.part_files(out)) == 3
    assert store.read_results(out).schema == store.SCHEMA
    row = rows[0]
    assert row["dataset"] == "digits" and row["n_train"] == 200 and row["updates"] == 30
    assert row["width"] is None and row["device"].startswith("cpu") and row["n_devices"] == 1
    assert all(0 <= r["final_test_accuracy"] <= r["best_test_accuracy"] <= 1 for r in rows)
    assert not any(r["diverged"] for r in rows)


def test_rerun_skips_finished_runs(reference, tmp_path):
    config, out = reference
    before = {p.name: p.stat().st_mtime_ns for p in store.part_files(out)}
    result = run_cli(config, out)
    assert result.returncode == 0, result.stderr
    assert "0 runs in 0 batches (18 already done" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in store.part_files(out)} == before


def test_resume_after_sigkill(reference, tmp_path):
    config, expected_out = reference
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", DRIVER, "sweep", str(config), "--out",
                                str(out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=cpu_env())
    try:
        deadline = time.monotonic() + 90
        while not store.part_files(out):
            assert process.poll() is None, "sweep ended before writing a batch"
            assert time.monotonic() < deadline, "no batch file within 90 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    interrupted = len(store.part_files(out))
    assert 1 <= interrupted < 3, "the kill came too late to test resuming"
    assert len(store.rows(out)) == 6 * interrupted  # whole batches only
    result = run_cli(config, out)
    assert result.returncode == 0, result.stderr
    assert f"({6 * interrupted} already done" in result.stderr
    assert_rows_equal(metric_rows(out), metric_rows(expected_out))
    assert len(store.rows(out)) == 18
    assert not [p for p in out.iterdir() if p.name.startswith(store.TEMP_PREFIX)]


def test_sharded_matches_unsharded(reference, tmp_path):
    config, expected_out = reference
    result = run_cli(config, tmp_path / "out", env=cpu_env(devices=4))
    assert result.returncode == 0, result.stderr
    rows = store.rows(tmp_path / "out")
    assert {r["n_devices"] for r in rows} == {4}
    assert_rows_equal(metric_rows(tmp_path / "out"), metric_rows(expected_out), rel=1e-5)


def test_diverged_runs_recorded(tmp_path):
    config = tmp_path / "huge.toml"
    config.write_text(BASE.replace("lrs = [0.05, 0.2]", "lrs = [0.1, 1e9]")
                      .replace("batch_sizes = [4, 8, 16]", "batch_sizes = [8]")
                      .replace("seeds = [0, 1, 2]", "seeds = [0]"))
    result = run_cli(config, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rows = {r["lr"]: r for r in store.rows(tmp_path / "out")}
    assert not rows[0.1]["diverged"] and rows[0.1]["final_test_accuracy"] > 0.5
    huge = rows[1e9]
    assert huge["diverged"] and huge["best_step"] is None
    for key in ("final_test_accuracy", "best_test_accuracy", "final_test_loss",
                "final_train_loss", "final_train_accuracy"):
        assert math.isnan(huge[key]), key
    assert "1 diverged" in result.stderr


def test_scaling_command_reads_a_sweep_and_writes_fits_and_figures(reference, tmp_path):
    """`sgdsde scaling` on the reference sweep: one B_opt per learning rate, a slope fit over
    ε (two slices), the collapse score, and the three figures; bad input exits 2."""
    import json

    from typer.testing import CliRunner

    from sgdsde.cli import app

    _, out = reference
    runner = CliRunner()
    figures = tmp_path / "figures"
    result = runner.invoke(app, ["scaling", str(out), "--json", "--n-boot", "50",
                                 "--figure-dir", str(figures)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert sorted(b["lr"] for b in record["b_opt"]) == [0.05, 0.2]
    assert set(record["fits"]) | set(record["fit_errors"]) == {"lr"}
    assert "score" in record["collapse"]
    assert {p.name for p in figures.iterdir()} >= {"accuracy_vs_b.png", "collapse_in_g.png"}
    missing = runner.invoke(app, ["scaling", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not a folder" in missing.output
