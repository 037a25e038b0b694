"""Data: IDX reader, MNIST from tiny IDX files, MNIST-1D cache, subsets, random labels."""

from __future__ import annotations

import gzip
import json
import struct

import mnist1d.data
import numpy as np
import pytest
from scipy.optimize import linprog
from sklearn.datasets import load_digits

from sgdsde.errors import (
    DatasetError,
    DatasetNotFoundError,
    IncompatibleChoiceError,
    ParameterRangeError,
    UnknownNameError,
)
from sgdsde.learning import DATASET_NAMES, load_dataset, read_idx


def write_idx(path, array: np.ndarray, code: int) -> None:
    """IDX bytes written by hand: 0x0000, dtype code, ndim, big-endian uint32 dims, data."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)


# --- IDX reader -----------------------------------------------------------------------------

RNG = np.random.default_rng(0)
IDX_CASES = {
    "images-uint8": (RNG.integers(0, 256, size=(5, 4, 3), dtype=np.uint8), 0x08),
    "labels-uint8": (RNG.integers(0, 10, size=7, dtype=np.uint8), 0x08),
    "int16": (RNG.integers(-300, 300, size=(2, 3), dtype=np.int16), 0x0B),
    "int32": (RNG.integers(-10**6, 10**6, size=4, dtype=np.int32), 0x0C),
    "float32": (RNG.normal(size=(3, 2)).astype(np.float32), 0x0D),
    "float64": (RNG.normal(size=(2, 2, 2)), 0x0E),
}


@pytest.mark.parametrize("case", IDX_CASES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, case, suffix):
    array, code = IDX_CASES[case]
    path = tmp_path / f"{case}-idx{suffix}"
    write_idx(path, array, code)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_read_idx_missing_file_names_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "bad magic"),
        (b"\x00\x00\x08\x00", "bad magic"),
        (b"\x00\x00", "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header truncated"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(5), "size mismatch"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02" + bytes(3), "size mismatch"),
    ],
)
def test_read_idx_malformed_names_file_and_problem(tmp_path, raw, problem):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DatasetError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_data_and_bad_gzip(tmp_path):
    images, code = IDX_CASES["images-uint8"]
    path = tmp_path / "images-idx3-ubyte"
    write_idx(path, images, code)
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DatasetError, match=f"{path}.*size mismatch.*shape \\(5, 4, 3\\)"):
        read_idx(path)
    gz = tmp_path / "images-idx3-ubyte.gz"
    write_idx(gz, images, code)
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DatasetError, match=f"{gz}: not a readable gzip file"):
        read_idx(gz)


# --- MNIST from a folder of tiny IDX files ------------------------------------------------------

@pytest.fixture
def idx_dir(tmp_path):
    """Tiny MNIST: 30 train and 20 test 4×5 images with labels cycling through 0..9."""
    rng = np.random.default_rng(1)
    splits = {"train": 30, "t10k": 20}
    for prefix, n in splits.items():
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (n, 4, 5), dtype=np.uint8), 0x08)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
                  (np.arange(n) % 10).astype(np.uint8), 0x08)
    return tmp_path


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.asarray(x, np.float32)}


def test_mnist_from_idx_files(idx_dir):
    ds = load_dataset("mnist", idx_dir=idx_dir, standardize=False)
    images = read_idx(idx_dir / "train-images-idx3-ubyte").reshape(30, 20) / 255
    labels = read_idx(idx_dir / "train-labels-idx1-ubyte.gz")
    assert (ds.n_train, ds.n_test, ds.n_features, ds.n_classes) == (30, 20, 20, 10)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    for x, y in zip(np.asarray(ds.x_train), np.asarray(ds.y_train), strict=True):
        match = np.flatnonzero(np.all(np.isclose(images, x), axis=1))
        assert len(match) == 1 and labels[match[0]] == y


def test_mnist_class_subset_is_balanced_and_relabelled(idx_dir):
    ds = load_dataset("mnist", idx_dir=idx_dir, classes=(7, 2), standardize=False)
    images = read_idx(idx_dir / "train-images-idx3-ubyte").reshape(30, 20) / 255
    labels = read_idx(idx_dir / "train-labels-idx1-ubyte.gz")
    assert ds.n_classes == 2 and np.bincount(np.asarray(ds.y_train)).tolist() == [3, 3]
    for new, old in enumerate((7, 2)):
        picked = np.asarray(ds.x_train)[np.asarray(ds.y_train) == new]
        assert _rows(picked) == _rows(images[labels == old])


def test_mnist_missing_or_inconsistent_files(idx_dir):
    (idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", idx_dir=idx_dir)
    write_idx(idx_dir / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8), 0x08)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.*same n"):
        load_dataset("mnist", idx_dir=idx_dir)
    with pytest.raises(IncompatibleChoiceError, match="idx_dir"):
        load_dataset("mnist")


# --- MNIST-1D: generation and cache -------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist1d_cache(tmp_path_factory):
    """A cache folder holding the default 5,000-sample MNIST-1D (generated once per module)."""
    folder = tmp_path_factory.mktemp("cache")
    load_dataset("mnist1d", cache_dir=folder)
    return folder


def test_mnist1d_shapes_and_subset(mnist1d_cache):
    full = load_dataset("mnist1d", cache_dir=mnist1d_cache)
    assert (full.n_train, full.n_test, full.n_features, full.n_classes) == (4000, 1000, 40, 10)
    assert set(np.unique(np.asarray(full.y_train))) == set(range(10))
    small = load_dataset("mnist1d", n_train=500, n_test=100, cache_dir=mnist1d_cache)
    assert small.x_train.shape == (500, 40) and small.y_test.shape == (100,)
    raw = load_dataset("mnist1d", standardize=False, cache_dir=mnist1d_cache)
    sub = load_dataset("mnist1d", n_train=500, standardize=False, cache_dir=mnist1d_cache)
    assert _rows(sub.x_train) <= _rows(raw.x_train)


def test_mnist1d_cache_hit_and_atomic_write(tmp_path, monkeypatch):
    calls = []
    original = mnist1d.data.make_dataset

    def counting(args):
        calls.append(args.num_samples)
        return original(args)

    monkeypatch.setattr(mnist1d.data, "make_dataset", counting)
    state = np.random.get_state()[1].copy()
    first = load_dataset("mnist1d", n_train=300, cache_dir=tmp_path)
    assert calls == [5000]
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]

    def refuse(args):
        raise AssertionError("generator called although the cache holds the data")

    monkeypatch.setattr(mnist1d.data, "make_dataset", refuse)
    second = load_dataset("mnist1d", n_train=300, cache_dir=tmp_path)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


def test_mnist1d_cache_dir_from_environment(tmp_path, monkeypatch, mnist1d_cache):
    monkeypatch.setenv("SGDSDE_CACHE_DIR", str(mnist1d_cache))
    monkeypatch.setattr(mnist1d.data, "make_dataset", None)  # would fail if called
    assert load_dataset("mnist1d", n_train=10).n_train == 10


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        load_dataset("mnist1d", n_train=10, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- class subsets, sizes, random labels, standardisation (scikit-learn digits) -----------------

def _digit_rows() -> dict[int, set[bytes]]:
    x, y = load_digits(return_X_y=True)
    return {c: _rows(x[y == c]) for c in range(10)}


def test_class_subset_balanced_and_relabelled_in_given_order():
    ds = load_dataset("digits", classes=(8, 3), standardize=False, seed=2)
    assert ds.n_classes == 2
    for y in (ds.y_train, ds.y_test):
        counts = np.bincount(np.asarray(y), minlength=2)
        assert counts[0] == counts[1] > 0
    rows = _digit_rows()
    for new, old in enumerate((8, 3)):
        assert _rows(np.asarray(ds.x_train)[np.asarray(ds.y_train) == new]) <= rows[old]
        assert _rows(np.asarray(ds.x_test)[np.asarray(ds.y_test) == new]) <= rows[old]


def test_subset_sizes_and_odd_counts():
    ds = load_dataset("digits", classes=(0, 1), n_train=51, n_test=20)
    assert sorted(np.bincount(np.asarray(ds.y_train)).tolist()) == [25, 26]
    assert np.bincount(np.asarray(ds.y_test)).tolist() == [10, 10]
    assert load_dataset("digits", n_train=100).n_train == 100


def test_unknown_class_names_available_classes():
    with pytest.raises(ParameterRangeError, match=r"classes=\(0, 10\).*among 0, 1, 2, .*, 9"):
        load_dataset("digits", classes=(0, 10))
    with pytest.raises(ParameterRangeError, match="among 0, 1$"):
        load_dataset("breast_cancer", classes=(0, 2))
    for bad in ((1,), (1, 1), (0, -1), (0, 1.0)):
        with pytest.raises(ParameterRangeError, match="classes"):
            load_dataset("digits", classes=bad)


def test_too_many_examples_names_available_count():
    available = load_dataset("digits", classes=(0, 1)).n_train
    with pytest.raises(ParameterRangeError, match=f"n_train={available + 1}.*<= {available}\\b"):
        load_dataset("digits", classes=(0, 1), n_train=available + 1)
    with pytest.raises(ParameterRangeError, match="n_test=5000.*<= 359"):
        load_dataset("digits", n_test=5000)


def test_random_labels_balanced_seeded_and_uninformative():
    true = load_dataset("digits", classes=(0, 1), seed=3)
    rand = load_dataset("digits", classes=(0, 1), seed=3, random_labels=True)
    np.testing.assert_array_equal(true.x_train, rand.x_train)
    for y in (rand.y_train, rand.y_test):
        counts = np.bincount(np.asarray(y), minlength=2)
        assert abs(int(counts[0]) - int(counts[1])) <= 1
    mismatch = np.mean(np.asarray(true.y_train) != np.asarray(rand.y_train))
    assert 0.4 < mismatch < 0.6
    again = load_dataset("digits", classes=(0, 1), seed=3, random_labels=True)
    other = load_dataset("digits", classes=(0, 1), seed=4, random_labels=True)
    np.testing.assert_array_equal(rand.y_train, again.y_train)
    assert not np.array_equal(np.asarray(rand.y_train[:50]), np.asarray(other.y_train[:50]))


def test_random_labels_with_ten_classes_differ_by_at_most_one():
    ds = load_dataset("digits", n_train=95, random_labels=True)
    counts = np.bincount(np.asarray(ds.y_train), minlength=10)
    assert counts.max() - counts.min() == 1 and counts.sum() == 95


def test_standardisation_uses_training_statistics():
    raw = load_dataset("digits", standardize=False, seed=5)
    std = load_dataset("digits", seed=5)
    x_train, x_test = np.asarray(raw.x_train, np.float64), np.asarray(raw.x_test, np.float64)
    mean, scale = x_train.mean(0), x_train.std(0)
    varying = scale > 0
    z = np.asarray(std.x_train)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z[:, varying].std(0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(std.x_test)[:, varying],
                               ((x_test - mean) / np.where(varying, scale, 1))[:, varying],
                               rtol=1e-5, atol=1e-5)
    assert (~varying).any() and np.all(z[:, ~varying] == 0)


# --- teacher-student, validation, metadata -----------------------------------------------------

def _linearly_separable(x: np.ndarray, y: np.ndarray, k: int) -> bool:
    """Whether some W (no bias) has (W_y − W_c)·x_i >= 1 for all i and c ≠ y_i (an LP)."""
    rows = []
    for xi, yi in zip(x, y, strict=True):
        for c in set(range(k)) - {int(yi)}:
            row = np.zeros((k, x.shape[1]))
            row[yi], row[c] = -xi, xi
            rows.append(row.ravel())
    result = linprog(np.zeros(k * x.shape[1]), A_ub=np.array(rows), b_ub=-np.ones(len(rows)),
                     bounds=(None, None))
    return result.status == 0


def test_teacher_student_is_linear_seeded_and_configurable():
    ds = load_dataset("teacher_student", standardize=False)
    assert (ds.n_train, ds.n_test, ds.n_features, ds.n_classes) == (1000, 1000, 20, 10)
    small = load_dataset("teacher_student", n_train=200, n_test=50, n_features=5, n_classes=3,
                         standardize=False, seed=1)
    x, y = np.asarray(small.x_train, np.float64), np.asarray(small.y_train)
    assert x.shape == (200, 5) and set(np.unique(y)) == {0, 1, 2}
    assert _linearly_separable(x, y, 3)
    assert not _linearly_separable(x, np.roll(y, 1), 3)
    again = load_dataset("teacher_student", n_train=200, n_test=50, n_features=5, n_classes=3,
                         standardize=False, seed=1)
    np.testing.assert_array_equal(small.x_train, again.x_train)
    other = load_dataset("teacher_student", n_train=200, n_features=5, n_classes=3, seed=2)
    assert not np.array_equal(np.asarray(small.y_train), np.asarray(other.y_train))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(name="cifar"), UnknownNameError, "name='cifar'.*" + ", ".join(DATASET_NAMES)),
        (dict(name="digits", n_train=0), ParameterRangeError, "n_train=0.*>= 1"),
        (dict(name="digits", n_test=2.5), ParameterRangeError, "n_test=2.5"),
        (dict(name="digits", seed=-1), ParameterRangeError, "seed=-1"),
        (dict(name="digits", n_features=5), IncompatibleChoiceError, "teacher_student.* only"),
        (dict(name="teacher_student", n_classes=1), ParameterRangeError, "n_classes=1"),
        (dict(name="teacher_student", classes=(0, 1)), IncompatibleChoiceError, "n_classes"),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_dataset(**kwargs)


def test_validation_happens_before_generation(tmp_path):
    with pytest.raises(ParameterRangeError):
        load_dataset("mnist1d", n_train=-5, cache_dir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_describe_is_json_ready():
    ds = load_dataset("breast_cancer", classes=(1, 0), n_train=40, random_labels=True, seed=7)
    info = json.loads(json.dumps(ds.describe()))
    assert info["name"] == "breast_cancer" and info["n_train"] == 40 and info["n_features"] == 30
    assert info["classes"] == [1, 0] and info["random_labels"] and info["seed"] == 7
    assert info["train_class_counts"] == [20, 20]
