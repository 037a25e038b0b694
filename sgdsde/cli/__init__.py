"""The ``sgdsde`` command: one module per command, each a thin wrapper over the library that
owns progress display, tables and file output (shared helpers in ``_common``)."""

from . import (  # noqa: F401 (register)
    _evidence,
    _learned,
    _noise_scale,
    _nqm,
    _quadratic,
    _rule,
    _scaling,
    _svag,
    _sweep,
    _tour,
)
from ._common import app as app

__all__ = ["app"]
