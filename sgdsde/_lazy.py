"""Lazy public names for a package's ``__init__`` (PEP 562): a name is imported from the module
that defines it the first time it is used, so ``import sgdsde`` — and every ``sgdsde``
command — loads only the modules it touches (a sweep never loads matplotlib, SciPy's
statistics or the tour). ``from sgdsde import *``, ``dir()`` and attribute access behave as
with eager imports, and a public submodule is an attribute of its package (``sgdsde.scaling``)
without being imported first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

#: One lock for every lazy import: two threads touching lazy names at once must not both start
#: importing the same heavy module (JAX, say), which can leave one of them with a partially
#: initialised module.
_IMPORT_LOCK = threading.RLock()


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for `package`.

    `exports` maps a module, relative to `package` (``"._analysis"``), to the public names it
    defines; ``"name=attribute"`` exports the module's `attribute` as `name`, and the module
    ``"."`` lists submodules exported as modules (``"errors"`` for ``package.errors``,
    ``"store=_store"`` for ``package._store`` as ``store``). Any other public submodule
    (``package.scaling``) is imported on first use too, outside ``__all__`` (so that
    ``import *`` stays light).
    """
    where: dict[str, tuple[str, str | None]] = {}
    for module, names in exports.items():
        for entry in names:
            name, _, attribute = entry.partition("=")
            if module == ".":
                where[name] = ("." + (attribute or name), None)
            else:
                where[name] = (module, attribute or name)

    def __getattr__(name: str) -> object:
        if name in where:
            module, attribute = where[name]
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            module, attribute = f".{name}", None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        with _IMPORT_LOCK:
            loaded = importlib.import_module(module, package)
        value = loaded if attribute is None else getattr(loaded, attribute)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, list(where)
