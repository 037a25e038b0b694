"""Lazy public names for a package's ``__init__`` (PEP 562): a name is imported from the module
that defines it the first time it is used, so ``import sgdsde`` — and every ``sgdsde``
command — loads only the modules it touches (a sweep never loads matplotlib, SciPy's
statistics or the tour). ``from sgdsde import *``, ``dir()`` and attribute access behave as
with eager imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for `package`.

    `exports` maps a module, relative to `package` (``"._analysis"``), to the public names it
    defines; ``"name=attribute"`` exports the module's `attribute` as `name`, and the module
    ``"."`` lists submodules exported as modules (``"errors"`` for ``package.errors``,
    ``"store=_store"`` for ``package._store`` as ``store``).
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
        try:
            module, attribute = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        loaded = importlib.import_module(module, package)
        value = loaded if attribute is None else getattr(loaded, attribute)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, list(where)
