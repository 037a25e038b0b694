"""Every file sgdsde writes goes through here: atomic writes and JSON-safe records.

A write goes to a hidden temporary file in the destination's folder, is flushed and fsynced,
gets the permissions an ordinary new file would get, and is renamed over its final name with
:func:`os.replace` (atomic on POSIX). A reader therefore sees the old file or the new one,
never a partial one, and a process killed at any moment (SIGKILL included) leaves at most a
temporary file, which :func:`remove_temporary` clears.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

#: Prefix of every temporary file (so a folder can be cleaned of a killed writer's leftovers).
TEMP_PREFIX = ".tmp-"


def _default_mode(path: str) -> None:
    """Give a mkstemp file (mode 0600) the permissions of an ordinary new file (0666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write `path` atomically: ``write(handle)`` fills a temporary binary file in the same
    folder, which then replaces `path`. On any failure (an exception in `write` included)
    the temporary file is removed and `path` is left as it was."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        _default_mode(temp)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))


def remove_temporary(folder: str | os.PathLike[str]) -> int:
    """Remove the temporary files a killed writer left in `folder`; returns how many."""
    folder = Path(folder)
    removed = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(TEMP_PREFIX):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def json_safe(value: Any) -> Any:
    """A copy of nested dicts/lists/arrays/scalars in plain Python types, with NaN and ±inf
    replaced by ``None``, so that ``json.dumps(..., allow_nan=False)`` writes valid JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, np.generic):
        return json_safe(np.asarray(value).tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_dumps(record: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` (record) with ``allow_nan=False``: strictly valid
    JSON, NaN written as null."""
    return json.dumps(json_safe(record), allow_nan=False, **kwargs)


def write_json(path: str | os.PathLike[str], record: Any, *, indent: int | None = 2) -> Path:
    """Write `record` as strictly valid JSON (NaN as null, :func:`json_safe`) to `path`,
    atomically."""
    return atomic_write_text(path, json_dumps(record, indent=indent) + "\n")
