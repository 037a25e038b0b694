"""The one validation mechanism: every user-facing value is checked here, at the boundary,
in plain Python (before anything is traced or compiled), with an error that names the
parameter, the value received and what is allowed (scikit-learn style; :mod:`sgdsde.errors`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from .errors import MatrixError, ParameterRangeError, UnknownNameError

T = TypeVar("T")


def is_int(value: object) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite real number (int or float, Python or NumPy), not a bool."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and math.isfinite(value))


def check_int(name: str, value: object, minimum: int = 1, *, maximum: int | None = None,
              optional: bool = False) -> Any:
    """`value` as an int in [minimum, maximum] (``None`` passes when `optional`)."""
    if optional and value is None:
        return None
    if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
        allowed = (f"an integer >= {minimum}" if maximum is None
                   else f"an integer in [{minimum}, {maximum}]")
        raise ParameterRangeError(name, value, f"None or {allowed}" if optional else allowed)
    return int(value)  # type: ignore[arg-type]


def check_number(name: str, value: object, *, above: float | None = None,
                 at_least: float | None = None, below: float | None = None,
                 optional: bool = False) -> Any:
    """`value` as a finite float with value > `above`, ≥ `at_least` and < `below` (each bound
    optional); the message states the interval."""
    if optional and value is None:
        return None
    ok = is_number(value)
    if ok:
        number = float(value)  # type: ignore[arg-type]
        ok = ((above is None or number > above) and (at_least is None or number >= at_least)
              and (below is None or number < below))
    if not ok:
        low = (f"({above:g}" if above is not None
               else f"[{at_least:g}" if at_least is not None else None)
        if low is not None and below is not None:
            allowed = f"in {low}, {below:g})"
        elif low is not None:
            allowed = f"a finite number {'>' if above is not None else '>='} {low[1:]}"
        elif below is not None:
            allowed = f"a finite number < {below:g}"
        else:
            allowed = "a finite number"
        raise ParameterRangeError(name, value, allowed)
    return number


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """`value` if it is one of `choices`, else :class:`UnknownNameError` listing them."""
    known = tuple(choices)
    if value not in known:
        raise UnknownNameError(name, value, known)
    return value  # type: ignore[return-value]


def check_list(name: str, values: object, check: Callable[[Any], bool], allowed: str) -> tuple:
    """A non-empty list of distinct values, each passing `check` (`allowed` says what they must
    be), as a tuple."""
    if not isinstance(values, list | tuple) or not values:
        raise ParameterRangeError(name, values, f"a non-empty list of {allowed}")
    for value in values:
        if not check(value):
            raise ParameterRangeError(name, values, f"a list of {allowed}; {value!r} is not")
    if len(set(values)) != len(values):
        raise ParameterRangeError(name, values, f"a list of distinct {allowed} (no repeats)")
    return tuple(values)


def check_classes(name: str, classes: Sequence[int], n_known: int) -> tuple[int, ...]:
    """At least two distinct labels among 0..n_known−1, as a tuple of ints."""
    chosen = tuple(classes)
    valid = (len(chosen) >= 2 and len(set(chosen)) == len(chosen)
             and all(is_int(c) and 0 <= c < n_known for c in chosen))
    if not valid:
        known = ", ".join(map(str, range(n_known)))
        raise ParameterRangeError(name, classes, f"at least two distinct labels among {known}")
    return tuple(int(c) for c in chosen)


def check_symmetric_matrix(name: str, value: object, *, definite: bool,
                           dim: int | None = None) -> np.ndarray:
    """A symmetric positive definite (`definite`) or semi-definite matrix as float64 NumPy.

    Raises :class:`MatrixError` naming the parameter and what was wrong.
    """
    matrix = np.asarray(value, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise MatrixError(f"{name} must be a non-empty square matrix, got shape {matrix.shape}")
    if dim is not None and matrix.shape[0] != dim:
        raise MatrixError(f"{name} must be {dim}x{dim} to match the Hessian, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise MatrixError(f"{name} has non-finite entries")
    scale = max(float(np.abs(matrix).max()), 1e-300)
    if not np.allclose(matrix, matrix.T, rtol=0.0, atol=1e-10 * scale):
        raise MatrixError(f"{name} must be symmetric")
    smallest = float(np.linalg.eigvalsh(matrix).min())
    if definite and smallest <= 0.0:
        raise MatrixError(
            f"{name} must be symmetric positive definite; its smallest eigenvalue is {smallest:.3g}"
        )
    if not definite and smallest < -1e-12 * scale:
        raise MatrixError(
            f"{name} must be symmetric positive semi-definite; its smallest eigenvalue is "
            f"{smallest:.3g}"
        )
    return matrix
