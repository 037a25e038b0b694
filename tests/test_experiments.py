"""The experiment scripts run end to end at their tiny scale (the paper-scale one included, so
the configuration meant for a GPU is exercised on a CPU before it is ever run there)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_batch_size_scaling_runs_at_tiny_scale(tmp_path):
    """Every law's sweeps (ε, both N sweeps, momentum), analysed and summarised."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "batch_size_scaling.py"),
                           "--scale", "tiny", "--law", "all", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((out / "batch_size_scaling.json").read_text())
    assert record["scale"] == "tiny" and len(record["sweeps"]) == 4
    for sweep in record["sweeps"]:
        assert sweep["summary"]["total"] == sweep["summary"]["ran"] > 0
        assert {"b_opt", "g_opt", "fits", "coverage", "errors"} <= set(sweep["analysis"])
    summary = (out / "summary.md").read_text()
    assert "| sweep | law |" in summary and "Produced by" in summary
    assert "claims held" in done.stdout


def test_paper_scale_configs_are_the_published_set_up():
    """The full-scale sweeps (for a GPU) are the published ones: an 800-unit MLP, m = 0.9 (or
    around it for the momentum law), B from 1 to 1,000, N up to 20,000, 10⁴ updates at ε = 1."""
    sys.path.insert(0, str(ROOT / "experiments"))
    from batch_size_scaling import sweeps

    from sgdsde import budget_steps

    for law in ("lr", "n_train", "momentum"):
        ((_, config),) = sweeps(law, "full")
        assert config.width == 800 and config.model == "mlp" and config.l2 == 0.0
        assert min(config.batch_sizes) == 1 and max(config.batch_sizes) == 1000
        assert budget_steps(config.budget_kind, config.budget_amount, lr=1.0, momentum=0.9,
                            batch_size=1, n_train=1000) == 10_000
    assert max(sweeps("n_train", "full")[0][1].n_trains) == 20_000
    assert 0.9 in sweeps("momentum", "full")[0][1].momenta


def test_every_packaged_sweep_file_is_a_valid_sweep():
    """The sweep files under experiments/sweeps/ (some only ever run on a GPU) load and expand:
    a typo in one is caught here, not at the start of a device run."""
    from sgdsde.scaling import expand, load_config

    files = sorted((ROOT / "experiments" / "sweeps").glob("*.toml"))
    assert len(files) >= 7
    for path in files:
        config, _ = load_config(path)
        runs = expand(config)
        assert len(runs) == (len(config.lrs) * len(config.batch_sizes) * len(config.momenta)
                             * len(config.n_trains) * len(config.seeds)), path.name
