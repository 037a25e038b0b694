"""One sweep driver per results folder.

A driver holds an exclusive, non-blocking ``flock`` on ``DIR/.sweep.lock`` while it prepares
the folder and runs the sweep; a second driver on the same folder (another process, another
machine on a file system with working locks) is refused at once with a
:class:`~sgdsde.errors.SweepDirError` naming the holder, so no run is ever computed twice and
no driver removes another one's temporary files. The kernel releases the lock when its holder
exits or is killed (SIGKILL included), so there is never a stale lock to remove. Within one
process the lock is reentrant: :func:`~sgdsde.scaling.prepare_out` and
:func:`~sgdsde.scaling.run_sweep` take it again inside the command line's hold.

The file holds one line, ``pid N on HOST``, for the refusal's message; it is never removed
(removing a locked file would let a third driver lock a new file of the same name).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import SweepDirError

LOCK_NAME = ".sweep.lock"

_held: dict[Path, list[int]] = {}  # folder -> [file descriptor, depth]
_guard = threading.Lock()


def _acquire(folder: Path, shown: str) -> int:
    """Create `folder` and lock its lock file; the open descriptor holds the lock."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SweepDirError(f"--out={shown!r} cannot be written: {exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise SweepDirError(f"--out={shown!r} cannot be locked: {exc}") from None
        raise SweepDirError(
            f"--out={shown!r} is in use by another sweep driver ({holder}); wait for it to "
            "finish (then run again to resume) or use another folder") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def sweep_lock(out: str | os.PathLike) -> Iterator[None]:
    """Hold the driver lock of results folder `out` (created if missing) for the block;
    :class:`SweepDirError` if another driver holds it."""
    folder = Path(out).resolve()
    with _guard:
        if folder in _held:
            _held[folder][1] += 1
        else:
            _held[folder] = [_acquire(folder, str(out)), 1]
    try:
        yield
    finally:
        with _guard:
            entry = _held[folder]
            entry[1] -= 1
            if entry[1] == 0:
                os.close(entry[0])  # closing the descriptor releases the lock
                del _held[folder]
