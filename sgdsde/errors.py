"""Exception types for user mistakes, one per kind, raised before any compilation.

Every message names the parameter, the value received and the allowed range, in the
scikit-learn style: ``lr=-0.1 is out of range: lr must be > 0``.
"""

from __future__ import annotations


class SGDSDEError(Exception):
    """Base class of every error sgdsde raises on purpose."""


class ParameterRangeError(SGDSDEError, ValueError):
    """A scalar parameter lies outside its allowed range."""

    def __init__(self, name: str, value: object, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name}={value!r} is out of range: {name} must be {allowed}")


class MatrixError(SGDSDEError, ValueError):
    """A matrix parameter has the wrong shape or is not symmetric positive definite."""


class UnstableLearningRateError(SGDSDEError, ValueError):
    """The learning rate lies outside the region where discrete SGD is stable."""


class IncompatibleChoiceError(SGDSDEError, ValueError):
    """Two choices that cannot go together (e.g. an SDE model that needs m = 0); `names` are
    the parameters involved, the one to change first."""

    def __init__(self, message: str, *, names: tuple[str, ...] = ()):
        self.names = names
        super().__init__(message)


class UnknownNameError(SGDSDEError, ValueError):
    """A name (model, solver, dataset, ...) that is not one of the known choices."""

    def __init__(self, name: str, value: object, choices: list[str] | tuple[str, ...]):
        self.name, self.value, self.choices = name, value, tuple(choices)
        super().__init__(
            f"{name}={value!r} is not known: {name} must be one of {', '.join(map(str, choices))}"
        )


class DatasetError(SGDSDEError, ValueError):
    """A data file that is malformed or inconsistent (the message names the file)."""


class DatasetNotFoundError(SGDSDEError, FileNotFoundError):
    """A data file that does not exist (the message names the file and where it was sought)."""


class SweepConfigError(SGDSDEError, ValueError):
    """A sweep configuration that cannot be used; the message names the key (``grid.lrs``)."""


class SweepDirError(SGDSDEError, ValueError):
    """An output folder that holds a different sweep (or cannot be used)."""


class ClusterError(SGDSDEError, RuntimeError):
    """A Dask cluster that cannot run a sweep: unreachable, without workers, without the
    resources its tasks need, or batches that failed there (finished ones are kept)."""


class NotAMinimumError(SGDSDEError, ValueError):
    """The Hessian at the point handed to the Laplace approximation is not positive definite."""
