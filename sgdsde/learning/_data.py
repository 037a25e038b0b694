"""Classification data sets available offline (docs/theory.md §6), returned as one
:class:`Dataset` type.

Sources (nothing is ever downloaded):

- ``"mnist1d"``: MNIST-1D from the ``mnist1d`` package's procedural generator (its canonical
  arguments, generator seed 42, its own 80/20 train/test split; 40 features, 10 classes), at
  the smallest multiple of 5,000 samples (the published size) that holds the request. Cached
  on disk as ``.npz`` keyed by a hash of the generator arguments.
- ``"digits"``, ``"breast_cancer"``: scikit-learn's bundled sets (8×8 digits, 64 features,
  10 classes; 30 features, 2 classes), split 80/20 by a seeded permutation.
- ``"teacher_student"``: Gaussian inputs x ~ N(0, I_p), labels argmax_c (W x)_c of a fixed
  random linear teacher W ~ N(0, 1)^{k×p}.
- ``"mnist"``: real MNIST from the four standard IDX files in a local folder (pixels / 255).

Every random choice comes from ``numpy.random.SeedSequence([seed, stream])``, one stream per
purpose (split, teacher, subsets, random labels), so one option never reshuffles another.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from .._io import atomic_write
from .._types import Array, Float, Int
from .._validation import check_choice, check_classes, check_int
from ..cache import user_cache_dir
from ..errors import (
    DatasetError,
    DatasetNotFoundError,
    IncompatibleChoiceError,
    ParameterRangeError,
)

DATASET_NAMES = ("mnist1d", "digits", "breast_cancer", "teacher_student", "mnist")
_N_CLASSES = {"mnist1d": 10, "digits": 10, "breast_cancer": 2, "teacher_student": 10, "mnist": 10}
_TEACHER_DEFAULTS = {"n_train": 1000, "n_test": 1000, "n_features": 20}
_MNIST1D_BLOCK = 5000
_MNIST1D_TRAIN_FRACTION = 0.8
_SKLEARN_TEST_FRACTION = 0.2
_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLIT, _TEACHER, _TRAIN_X, _TEST_X, _TRAIN_SUBSET, _TEST_SUBSET, _LABELS = range(7)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set: float32 features ``(N, p)``, int32 labels in 0..k−1.

    `options` records how it was made (the :func:`load_dataset` arguments and the source).
    """

    x_train: Float[Array, "n_train p"]
    y_train: Int[Array, " n_train"]
    x_test: Float[Array, "n_test p"]
    y_test: Int[Array, " n_test"]
    n_classes: int
    name: str
    options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def n_train(self) -> int:
        """N, the number of training examples (rows of `x_train`)."""
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        """The number of test examples (rows of `x_test`)."""
        return self.x_test.shape[0]

    @property
    def n_features(self) -> int:
        """p, the number of input features (columns of `x_train`)."""
        return self.x_train.shape[1]

    def describe(self) -> dict[str, object]:
        """JSON-ready metadata: sizes, class counts per split and the load options."""
        counts = {
            f"{split}_class_counts": np.bincount(np.asarray(y), minlength=self.n_classes).tolist()
            for split, y in (("train", self.y_train), ("test", self.y_test))
        }
        sizes = {"n_train": self.n_train, "n_test": self.n_test, "n_features": self.n_features}
        return {"name": self.name, "n_classes": self.n_classes, **sizes, **counts, **self.options}


class _Split(NamedTuple):
    """Raw train/test arrays of a source (NumPy, labels 0..k−1), before any selection."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_dataset(
    name: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    classes: Sequence[int] | None = None,
    standardize: bool = True,
    random_labels: bool = False,
    seed: int = 0,
    n_features: int | None = None,
    n_classes: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    idx_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load a data set by name, select examples and classes, optionally randomise labels.

    **Arguments:**

    - `name`: one of ``DATASET_NAMES``.
    - `n_train`, `n_test`: sizes of seeded random subsets of the train/test splits (None: all;
      teacher_student: 1,000 each). Too many raise ParameterRangeError naming what is available.
    - `classes`: labels to keep, relabelled 0..k−1 in the given order. Each split is then
      balanced: equal counts per class (differing by at most one when a size is not a
      multiple of k), as in the balanced 0/1 study of Smith & Le 2018.
    - `standardize`: per-feature (x − mean)/std with training-set statistics, applied to both
      splits; features constant on the training set are only centred.
    - `random_labels`: replace train and test labels by balanced random labels (a shuffled
      vector with equal counts per class), so a bias cannot profit from imbalance.
    - `seed`: seeds the scikit-learn split, the teacher, the subsets and the random labels
      (not the MNIST-1D generator, which keeps its canonical seed).
    - `n_features`, `n_classes`: teacher_student only (defaults 20 and 10).
    - `cache_dir`: MNIST-1D cache folder (default ``$SGDSDE_CACHE_DIR``, else
      ``~/.cache/sgdsde``).
    - `idx_dir`: mnist only: the folder holding the four standard IDX files (optionally .gz).

    **Returns:** a :class:`Dataset` with jax arrays.
    """
    classes = _check_options(name, n_train, n_test, classes, seed, n_features, n_classes, idx_dir)
    split, source = _source(name, n_train, n_test, classes, seed, n_features, n_classes,
                            cache_dir, idx_dir)
    k = len(classes) if classes else n_classes or _N_CLASSES[name]
    x_train, y_train = _select(split.x_train, split.y_train, n_train, classes,
                               _rng(seed, _TRAIN_SUBSET), "n_train", name)
    x_test, y_test = _select(split.x_test, split.y_test, n_test, classes,
                             _rng(seed, _TEST_SUBSET), "n_test", name)
    if standardize:
        x_train, x_test = _standardize(x_train, x_test)
    if random_labels:
        rng = _rng(seed, _LABELS)
        y_train = _balanced_labels(len(y_train), k, rng)
        y_test = _balanced_labels(len(y_test), k, rng)
    options = {"source": source, "classes": list(classes) if classes else None,
               "standardize": standardize, "random_labels": random_labels, "seed": seed}
    return Dataset(
        x_train=jnp.asarray(x_train, jnp.float32), y_train=jnp.asarray(y_train, jnp.int32),
        x_test=jnp.asarray(x_test, jnp.float32), y_test=jnp.asarray(y_test, jnp.int32),
        n_classes=k, name=name, options=MappingProxyType(options),
    )


def _source(name: str, n_train: int | None, n_test: int | None,
            classes: tuple[int, ...] | None, seed: int, n_features: int | None,
            n_classes: int | None, cache_dir: str | os.PathLike | None,
            idx_dir: str | os.PathLike | None) -> tuple[_Split, str]:
    """The raw split of source `name` and a line describing where it came from."""
    if name == "teacher_student":
        split = _teacher_split(n_train or _TEACHER_DEFAULTS["n_train"],
                               n_test or _TEACHER_DEFAULTS["n_test"],
                               n_features or _TEACHER_DEFAULTS["n_features"],
                               n_classes or _N_CLASSES[name], seed)
        return split, "linear teacher"
    if name == "mnist1d":
        return _mnist1d_split(n_train, n_test, classes, _cache_path(cache_dir))
    if name == "mnist":
        return _mnist_split(Path(idx_dir)), str(idx_dir)
    return _sklearn_split(name, seed), "scikit-learn"


def check_dataset_options(name: str, *, classes: Sequence[int] | None = None,
                          n_features: int | None = None, n_classes: int | None = None,
                          idx_dir: object = None, prefix: str = "") -> tuple[int, ...] | None:
    """The rules that tie :func:`load_dataset`'s options to the data set `name` (cheap, before
    any data is touched): `classes` are labels of that data set (returned as a tuple, or None),
    `n_features`/`n_classes` belong to teacher_student only, and mnist needs `idx_dir`. Shared
    by the loader, the sweep configs and the CLI; `prefix` goes before every parameter name
    in the errors (``"data."`` for a sweep config)."""
    check_choice(f"{prefix}name", name, DATASET_NAMES)
    if name == "teacher_student":
        if classes is not None:
            raise IncompatibleChoiceError(
                "classes cannot be used with name='teacher_student': set n_classes instead",
                names=(f"{prefix}classes",))
        return None
    if n_features is not None or n_classes is not None:
        raise IncompatibleChoiceError(
            f"n_features and n_classes apply to name='teacher_student' only, not name={name!r}",
            names=(f"{prefix}n_features", f"{prefix}n_classes"))
    if name == "mnist" and idx_dir is None:
        raise IncompatibleChoiceError(
            "name='mnist' needs idx_dir: a folder with the four MNIST IDX files",
            names=(f"{prefix}idx_dir",))
    if classes is None:
        return None
    return check_classes(f"{prefix}classes", classes, _N_CLASSES[name])


def _check_options(name: str, n_train: int | None, n_test: int | None,
                   classes: Sequence[int] | None, seed: int, n_features: int | None,
                   n_classes: int | None, idx_dir: object) -> tuple[int, ...] | None:
    """Validate every load_dataset argument (cheap, before any data is touched)."""
    check_choice("name", name, DATASET_NAMES)
    for arg, value, low in (("n_train", n_train, 1), ("n_test", n_test, 1),
                            ("n_features", n_features, 1), ("n_classes", n_classes, 2)):
        check_int(arg, value, low, optional=True)
    check_int("seed", seed, 0)
    return check_dataset_options(name, classes=classes, n_features=n_features,
                                 n_classes=n_classes, idx_dir=idx_dir)


def _rng(seed: int, stream: int) -> np.random.Generator:
    """The generator of one purpose (stream) of a seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _available(y: np.ndarray, classes: tuple[int, ...] | None) -> int:
    """How many examples a (balanced, if classes are given) selection can take from labels y."""
    if classes is None:
        return len(y)
    return len(classes) * min(int(np.sum(y == c)) for c in classes)


def _select(x: np.ndarray, y: np.ndarray, n: int | None, classes: tuple[int, ...] | None,
            rng: np.random.Generator, arg: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of n examples (all if None), class-balanced and relabelled
    0..k−1 in the order of `classes` when given, in shuffled order."""
    available = _available(y, classes)
    if n is not None and n > available:
        what = f"balanced examples of classes {list(classes)}" if classes else "examples"
        raise ParameterRangeError(arg, n, f"<= {available}, the {what} available in {name}")
    if classes is None:
        index = rng.permutation(len(y))[:n]
        return x[index], y[index]
    n = available if n is None else n
    quotas = n // len(classes) + (np.arange(len(classes)) < n % len(classes))
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    picks = [pool[:q] for pool, q in zip(pools, quotas, strict=True)]
    new_labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(picks)])
    order = rng.permutation(n)
    return x[np.concatenate(picks)][order], new_labels[order]


def _balanced_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffled label vector with equal counts per class (first n mod k classes get one more)."""
    return rng.permutation(np.arange(n) % k)


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x − mean)/std per feature with training statistics (float64); features whose training
    std is at rounding level of their mean are only centred."""
    mean, std = x_train.mean(0, dtype=np.float64), x_train.std(0, dtype=np.float64)
    std = np.where(std > 1e-7 * (1.0 + np.abs(mean)), std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std


def _sklearn_split(name: str, seed: int) -> _Split:
    """scikit-learn's bundled digits or breast-cancer set, split 80/20 by a seeded permutation."""
    from sklearn import datasets

    loader = datasets.load_digits if name == "digits" else datasets.load_breast_cancer
    x, y = loader(return_X_y=True)
    order = _rng(seed, _SPLIT).permutation(len(y))
    test, train = np.split(order, [round(_SKLEARN_TEST_FRACTION * len(y))])
    return _Split(x[train], y[train], x[test], y[test])


def _teacher_split(n_train: int, n_test: int, n_features: int, n_classes: int,
                   seed: int) -> _Split:
    """Gaussian inputs labelled by argmax_c (W x)_c, W ~ N(0, 1)^{k×p} fixed by the seed."""
    w = _rng(seed, _TEACHER).standard_normal((n_classes, n_features))
    x_train = _rng(seed, _TRAIN_X).standard_normal((n_train, n_features))
    x_test = _rng(seed, _TEST_X).standard_normal((n_test, n_features))
    return _Split(x_train, np.argmax(x_train @ w.T, 1), x_test, np.argmax(x_test @ w.T, 1))


def _cache_path(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir or user_cache_dir())


def _mnist1d_split(n_train: int | None, n_test: int | None, classes: tuple[int, ...] | None,
                   cache_dir: Path) -> tuple[_Split, str]:
    """MNIST-1D at the smallest multiple of 5,000 samples whose splits hold the request.

    Starts from the expected size (10% margin for the random class counts) and grows by one
    block while a split is short.
    """
    fraction = len(classes) / 10 if classes else 1.0
    train_fraction = _MNIST1D_TRAIN_FRACTION
    need = max((n_train or 0) / train_fraction, (n_test or 0) / (1 - train_fraction))
    size = _MNIST1D_BLOCK * max(1, int(np.ceil(1.1 * need / fraction / _MNIST1D_BLOCK)))
    while True:
        split = _mnist1d_cached(size, cache_dir)
        if (_available(split.y_train, classes) >= (n_train or 0)
                and _available(split.y_test, classes) >= (n_test or 0)):
            return split, f"mnist1d.make_dataset(num_samples={size})"
        size += _MNIST1D_BLOCK


def _mnist1d_cached(num_samples: int, cache_dir: Path) -> _Split:
    """The generator's output for `num_samples`, read from or written to the .npz cache. The
    file is named by the package's version and `num_samples` (the canonical arguments are the
    version's), so a cached read never imports the generator (it loads matplotlib and SciPy)."""
    key = json.dumps({"mnist1d": version("mnist1d"), "num_samples": num_samples},
                     sort_keys=True)
    path = cache_dir / f"mnist1d-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays = _generate_mnist1d(_mnist1d_args(num_samples))._asdict()
        atomic_write(path, lambda stream: np.savez(stream, **arrays))
    with np.load(path) as stored:
        return _Split(**{name: stored[name] for name in _Split._fields})


def _mnist1d_args(num_samples: int) -> dict[str, object]:
    """The package's canonical generator arguments with `num_samples`, without the download URL."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    del args["url"]
    return {**args, "num_samples": num_samples}


def _generate_mnist1d(args: dict[str, object]) -> _Split:
    """Run ``mnist1d.data.make_dataset`` (procedural, no download), restoring the global NumPy
    and ``random`` states it reseeds. Features float32, labels int32."""
    import mnist1d.data
    from mnist1d.utils import ObjectView

    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        raw = mnist1d.data.make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    f32, i32 = np.float32, np.int32
    return _Split(raw["x"].astype(f32), raw["y"].astype(i32),
                  raw["x_test"].astype(f32), raw["y_test"].astype(i32))


def _mnist_split(idx_dir: Path) -> _Split:
    """MNIST from the four standard IDX files in `idx_dir` (each may be gzipped); x = pixels/255."""
    paths = {key: _find_idx(idx_dir, stem) for key, stem in _MNIST_FILES.items()}
    images = {key: read_idx(paths[key]) for key in ("x_train", "x_test")}
    labels = {key: read_idx(paths[key]) for key in ("y_train", "y_test")}
    for split in ("train", "test"):
        x, y = images[f"x_{split}"], labels[f"y_{split}"]
        xp, yp = paths[f"x_{split}"], paths[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(f"MNIST files disagree: {xp} has shape {x.shape} (want (n, rows, "
                             f"cols)), {yp} has shape {y.shape} (want (n,) with the same n)")
        if y.size and not 0 <= y.min() <= y.max() <= 9:
            raise DatasetError(f"{yp}: labels must lie in 0..9, found {y.min()}..{y.max()}")
    flat = {key: x.reshape(len(x), -1).astype(np.float32) / 255 for key, x in images.items()}
    return _Split(flat["x_train"], labels["y_train"], flat["x_test"], labels["y_test"])


def _find_idx(folder: Path, stem: str) -> Path:
    """`folder/stem` or, failing that, `folder/stem.gz`."""
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    raise DatasetNotFoundError(f"MNIST IDX file {stem} (or {stem}.gz) not found in {folder}")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed when the name ends in ``.gz``).

    Layout: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions n, n big-endian uint32 sizes, then
    the data in C order, big-endian. Returns native byte order. Raises FileNotFoundError for a
    missing file and ValueError, naming the file, for a malformed header or a size mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"IDX file {path} does not exist")
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DatasetError(f"{path} is not an IDX file: bad magic number 0x{raw[:4].hex()} "
                         "(want 0x0000, a dtype code in 08/09/0b/0c/0d/0e, then ndim >= 1)")
    header = 4 + 4 * raw[3]
    if len(raw) < header:
        raise DatasetError(f"{path}: IDX header truncated: {raw[3]} dimensions need {header} "
                         f"bytes, the file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=raw[3], offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(f"{path}: IDX size mismatch: header says shape {shape} of "
                         f"{dtype.name} ({expected} bytes in all), the file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError) as err:
        raise DatasetError(f"{path}: not a readable gzip file ({err})") from err
