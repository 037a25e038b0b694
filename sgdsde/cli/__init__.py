"""The ``sgdsde`` command: one module per command, each a thin wrapper over the library that
owns progress display, tables and file output (shared helpers in ``_common``)."""

from . import _evidence, _learned, _quadratic, _rule, _scaling, _sweep, _tour  # noqa: F401
from ._common import app as app

__all__ = ["app"]
