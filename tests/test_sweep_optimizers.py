"""Sweeps of RMSprop and Adam (an ``[optimizer]`` section): validation before anything runs,
run ids (plain SGD keeps its old ids), and rows equal to the same runs made one at a time by
:func:`sgdsde.simulate_sgd` with the same optimiser."""

import json
import math

import numpy as np
import pytest

from sgdsde import RunConfig, load_dataset, simulate_sgd
from sgdsde.errors import SweepConfigError
from sgdsde.optimizers import Adam
from sgdsde.scaling import analyse_sweep, expand, parse_text, prepare_out, run_sweep, store
from sgdsde.surfaces import learned_surface

BASE = """
[data]
dataset = "digits"
n_test = 100
seed = 0

[model]
name = "logistic"

[grid]
lrs = [0.01, 0.03]
batch_sizes = [8, 32]
n_trains = [200]
seeds = [0, 1]

[budget]
kind = "updates"
amount = 30

[eval]
checkpoints = 3
"""
ADAM = BASE + '\n[optimizer]\nname = "adam"\nb2 = 0.99\n'


@pytest.mark.parametrize(("change", "named"), [
    ('\n[optimizer]\nname = "adagrad"\n', "optimizer.name"),
    ('\n[optimizer]\nb1 = 0.5\n', "optimizer.name"),
    ('\n[optimizer]\nname = "adam"\nbeta1 = 0.5\n', "optimizer.beta1"),
    ('\n[optimizer]\nname = "adam"\nb1 = 1.0\n', "optimizer.b1"),
    ('\n[optimizer]\nname = "rmsprop"\ndecay = -0.1\n', "optimizer.decay"),
    ('\n[optimizer]\nname = "rmsprop"\nbias_correction = "yes"\n', "optimizer.bias_correction"),
])
def test_bad_optimizer_section_names_the_key(change, named):
    with pytest.raises(SweepConfigError, match=f"config key {named}[: ]"):
        parse_text(BASE + change)


def test_adaptive_optimizers_refuse_heavy_ball_and_sde_time():
    with pytest.raises(SweepConfigError, match=r"grid.momenta: must be \[0\] for optimizer"):
        parse_text(ADAM.replace("seeds = [0, 1]", "seeds = [0, 1]\nmomenta = [0.9]"))
    with pytest.raises(SweepConfigError, match="budget.kind: must be epochs or updates"):
        parse_text(ADAM.replace('kind = "updates"', 'kind = "sde_time"'))


def test_run_ids_name_the_optimiser_and_plain_sgd_keeps_its_ids():
    sgd = [r.run_id for r in expand(parse_text(BASE))]
    named_sgd = [r.run_id for r in expand(parse_text(BASE + '\n[optimizer]\nname = "sgd"\n'))]
    adam = [r.run_id for r in expand(parse_text(ADAM))]
    adam_default = [r.run_id for r in expand(parse_text(ADAM.replace("b2 = 0.99\n", "")))]
    assert sgd == named_sgd
    assert len(set(sgd) | set(adam) | set(adam_default)) == 3 * len(sgd)


def test_one_run_has_one_id_however_the_file_spells_it():
    """1 and 1.0 are the same value, and a default written out is the default left out."""
    rmsprop = BASE + '\n[optimizer]\nname = "rmsprop"\ninitial_scale = {}\n'
    as_int, as_float = (parse_text(rmsprop.format(v)) for v in ("1", "1.0"))
    assert as_int == as_float and as_int.optimizer_options == (("initial_scale", 1.0),)
    assert [r.run_id for r in expand(as_int)] == [r.run_id for r in expand(as_float)]
    spelled = parse_text(ADAM.replace("b2 = 0.99", "b2 = 0.99\nb1 = 0.9\neps = 1e-8"))
    assert spelled == parse_text(ADAM)


def test_stores_written_before_the_optimizer_columns_read_as_sgd(adam_sweep, tmp_path):
    import pyarrow.parquet as pq

    _, out, _ = adam_sweep
    table = store.read_results(out).drop_columns(["optimizer", "optimizer_options"])
    pq.write_table(table, tmp_path / "part-old.parquet")
    rows = store.rows(tmp_path)
    assert {r["optimizer"] for r in rows} == {"sgd"}
    assert {r["optimizer_options"] for r in rows} == {"{}"}


def test_config_round_trips_through_its_toml():
    config = parse_text(ADAM)
    assert parse_text(config.to_toml()) == config
    assert config.optimizer_config() == Adam(b2=0.99)
    assert parse_text(BASE).to_toml() == parse_text(parse_text(BASE).to_toml()).to_toml()
    assert "[optimizer]" not in parse_text(BASE).to_toml()


@pytest.fixture(scope="module")
def adam_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam")
    config = parse_text(ADAM)
    prepare_out(out, config, ADAM)
    summary = run_sweep(config, out)
    return config, out, summary


def test_rows_are_the_same_runs_made_one_at_a_time(adam_sweep):
    """Each row's final metrics equal simulate_sgd with RunConfig(optimizer=Adam(b2=0.99)),
    the run's seed (network and minibatch stream) and one path; float32 round-off differs
    between the vmapped sweep and the single run, hence rel=1e-4."""
    config, out, summary = adam_sweep
    rows = store.rows(out)
    assert summary.ran == len(rows) == 8 and not any(r["diverged"] for r in rows)
    data = load_dataset("digits", n_train=200, n_test=100, seed=0)
    for row in rows:
        assert row["optimizer"] == "adam" and json.loads(row["optimizer_options"]) == {"b2": 0.99}
        assert math.isnan(row["noise_scale"]) and math.isnan(row["sde_time"])
        surface = learned_surface(data, "logistic", seed=row["seed"])
        run = RunConfig(lr=row["lr"], batch_size=row["batch_size"], n_train=200, steps=30,
                        paths=1, seed=row["seed"], optimizer=Adam(b2=0.99))
        metrics = surface.ensemble_metrics(simulate_sgd(surface, run, save_steps=(30,)))
        for key in ("test_accuracy", "test_loss", "train_loss", "train_accuracy"):
            assert row[f"final_{key}"] == pytest.approx(float(np.asarray(metrics[key])[0, -1]),
                                                        rel=1e-4, abs=1e-6), (key, row)


def test_the_optimiser_changes_the_rows(adam_sweep, tmp_path):
    """The same grid with plain SGD gives other losses (the optimiser is really applied)."""
    _, adam_out, _ = adam_sweep
    config = parse_text(BASE)
    prepare_out(tmp_path, config, BASE)
    run_sweep(config, tmp_path)
    key = ("lr", "batch_size", "seed")
    sgd = {tuple(r[k] for k in key): r["final_train_loss"] for r in store.rows(tmp_path)}
    adam = {tuple(r[k] for k in key): r["final_train_loss"] for r in store.rows(adam_out)}
    assert sgd.keys() == adam.keys()
    assert all(abs(sgd[k] - adam[k]) > 1e-3 * sgd[k] for k in sgd)
    assert {r["optimizer"] for r in store.rows(tmp_path)} == {"sgd"}


def test_noise_scale_analysis_refuses_adaptive_sweeps(adam_sweep):
    _, out, _ = adam_sweep
    with pytest.raises(ValueError, match="SGD's noise scale.*adam"):
        analyse_sweep(store.read_results(out), replicates=10)
