"""The results store: atomic batch files, reading back, dedup by run_id."""

import math

import pyarrow.parquet as pq
import pytest

from sgdsde.scaling import store


def make_row(run_id: str, **changes):
    row = dict.fromkeys(store.COLUMNS)
    row.update(run_id=run_id, batch_id="b", dataset="digits", n_train=200, n_test=100,
               data_seed=0, model="mlp", width=8, l2=0.0, lr=0.1, batch_size=8, momentum=0.0,
               replacement=False, seed=0, budget_kind="updates", budget_amount=10.0,
               checkpoints=3, updates=10, sde_time=1.0, noise_scale=2.4, diverged=False,
               final_test_accuracy=0.5, best_test_accuracy=0.6, best_step=5,
               final_test_loss=1.0, final_train_loss=0.9, final_train_accuracy=0.7,
               wall_seconds=0.1, batch_runs=2, device="cpu:cpu", n_devices=1,
               sgdsde_version="0.1.0")
    row.update(changes)
    return row


def test_write_and_read_back(tmp_path):
    path = store.write_batch(tmp_path, "b1", [make_row("a"), make_row("b", lr=0.2)])
    assert path.name == "part-b1.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["part-b1.parquet"]  # no temp file left
    table = store.read_results(tmp_path)
    assert table.schema == store.SCHEMA
    rows = table.to_pylist()
    assert [r["run_id"] for r in rows] == ["a", "b"]
    assert rows[1]["lr"] == 0.2 and rows[0]["classes"] is None
    assert store.finished_ids(tmp_path) == {"a", "b"}


def test_empty_store(tmp_path):
    assert store.read_results(tmp_path / "missing").num_rows == 0
    assert store.finished_ids(tmp_path) == set()


def test_dedup_by_run_id(tmp_path):
    store.write_batch(tmp_path, "b1", [make_row("a"), make_row("b")])
    store.write_batch(tmp_path, "b2", [make_row("b", lr=0.3), make_row("c")])
    rows = store.rows(tmp_path)
    assert [r["run_id"] for r in rows] == ["a", "b", "c"]
    assert rows[1]["lr"] == 0.1  # first file in name order wins


def test_nan_metrics_round_trip(tmp_path):
    nan = float("nan")
    store.write_batch(tmp_path, "b", [make_row("a", diverged=True, final_test_accuracy=nan,
                                               best_test_accuracy=nan, best_step=None)])
    row = store.rows(tmp_path)[0]
    assert row["diverged"] and math.isnan(row["best_test_accuracy"]) and row["best_step"] is None


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store.write_batch(tmp_path, "ok", [make_row("a")])

    def broken(table, where, **kwargs):
        where.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        store.write_batch(tmp_path, "bad", [make_row("b")])
    assert [p.name for p in tmp_path.iterdir()] == ["part-ok.parquet"]
    assert store.finished_ids(tmp_path) == {"a"}


def test_schema_mismatch_rejected(tmp_path):
    row = make_row("a")
    del row["lr"]
    with pytest.raises(ValueError, match="lr"):
        store.write_batch(tmp_path, "b", [row])
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_ignored_and_cleaned(tmp_path):
    store.write_batch(tmp_path, "b1", [make_row("a")])
    (tmp_path / f"{store.TEMP_PREFIX}xyz.parquet").write_bytes(b"PAR1 half a file")
    assert store.finished_ids(tmp_path) == {"a"}
    assert store.read_results(tmp_path).num_rows == 1
    assert store.clean_temporary(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["part-b1.parquet"]
