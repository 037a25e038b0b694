"""The package's cache folder and JAX's persistent compilation cache.

sgdsde keeps what it can rebuild under one folder, :func:`user_cache_dir`
(``$SGDSDE_CACHE_DIR``, else ``~/.cache/sgdsde``): the MNIST-1D data and, in ``jax/``, the
compiled XLA executables. With the compilation cache on, a second process finds every kernel
the first one compiled (same program, shapes, flags, jax version and device) instead of
compiling it again; the executables are the same, so results are identical with the cache on
or off. The command line turns it on for every command; workers of a Dask sweep turn it on
with the driver's folder before their first batch (:func:`enable_compile_cache` is cheap to
call again).

JAX writes an entry with a plain file write: a process killed while writing leaves a
truncated entry that only costs a recompilation (JAX warns and compiles); deleting the folder
is always safe.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import jax
from jax import monitoring
from jax.experimental.compilation_cache import compilation_cache

#: Environment variable naming the package's cache folder.
CACHE_ENV = "SGDSDE_CACHE_DIR"
_HIT = "/jax/compilation_cache/cache_hits"
_MISS = "/jax/compilation_cache/cache_misses"


def user_cache_dir() -> Path:
    """The package's cache folder: ``$SGDSDE_CACHE_DIR``, else ``~/.cache/sgdsde``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sgdsde")


def default_compile_cache() -> Path:
    """Where compiled kernels go unless told otherwise: ``jax/`` in :func:`user_cache_dir`."""
    return user_cache_dir() / "jax"


@dataclasses.dataclass
class CacheCounts:
    """Persistent-cache lookups of this process since the cache was turned on: kernels found
    (`hits`) and kernels compiled and stored (`misses`)."""

    hits: int = 0
    misses: int = 0


_counts = CacheCounts()
_listening = False


def _count(event: str, **_: object) -> None:
    if event == _HIT:
        _counts.hits += 1
    elif event == _MISS:
        _counts.misses += 1


def enable_compile_cache(folder: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache in `folder` (default
    :func:`default_compile_cache`), creating it; every compilation is stored, however short.
    Calling it again with the same folder changes nothing. Raises OSError when the folder
    cannot be created. Returns the folder."""
    path = Path(folder if folder is not None else default_compile_cache()).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    global _listening
    if not _listening:
        monitoring.register_event_listener(_count)
        _listening = True
    current = jax.config.jax_compilation_cache_dir
    if current != str(path):
        if current is not None:
            compilation_cache.reset_cache()  # let JAX open the new folder
        compilation_cache.set_cache_dir(str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def compile_cache_dir() -> Path | None:
    """The folder of the persistent compilation cache in use, or None when it is off."""
    current = jax.config.jax_compilation_cache_dir
    return None if current is None else Path(current)


def compile_cache_counts() -> CacheCounts:
    """A copy of this process's cache hits and misses (all zero before the cache is on)."""
    return dataclasses.replace(_counts)
