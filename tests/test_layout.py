"""The package's shape (docs/architecture.md), checked from the source with `ast`: layers import
only downwards, there are no import circles, no module imports a private name of another
package, and the scripts, notebooks and benchmarks use the public API only."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sgdsde"

#: Layer of each subpackage; the flat modules of the root package (the engine and theory) are
#: layer 0. A module may import from its own layer or below.
LAYERS = {"learning": 1, "surfaces": 2, "studies": 3, "scaling": 3, "evidence": 3, "plots": 4,
          "tour": 5, "cli": 6}
#: Private root modules every package may use: the one internal zone (types, I/O, validation).
SHARED_INTERNALS = {"sgdsde._types", "sgdsde._io", "sgdsde._validation", "sgdsde._version",
                    "sgdsde._lazy"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def package_of(name: str) -> str:
    return name if is_package(name) else name.rsplit(".", 1)[0]


def layer(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1:
        return max(LAYERS.values()) + 1  # the root __init__: the public API, above everything
    return LAYERS.get(parts[1], 0)


def imports(name: str) -> list[tuple[str, str | None, int]]:
    """(target module, imported name or None, line) for every import of module `name` (nested
    ones included, ``if TYPE_CHECKING:`` blocks excluded), relative imports resolved."""
    tree = ast.parse(MODULES[name].read_text())
    skip = {id(node) for test in ast.walk(tree) if isinstance(test, ast.If)
            and "TYPE_CHECKING" in ast.unparse(test.test) for node in ast.walk(test)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "sgdsde"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(name).split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "sgdsde":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return found


EDGES = {name: imports(name) for name in MODULES}
Edges = dict[str, list[tuple[str, str | None, int]]]


def upward_imports(edges: Edges) -> list[str]:
    """Imports of a module from a higher layer."""
    return [f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)}) at "
            f"line {line}"
            for source, found in edges.items() for target, _, line in found
            if layer(target) > layer(source)]


def private_imports(edges: Edges) -> list[str]:
    """Imports of a private module or name (leading underscore) of another package, the shared
    internals excepted."""
    private = []
    for source, found in edges.items():
        for target, imported, line in found:
            if package_of(target) == package_of(source) or target in SHARED_INTERNALS:
                continue
            parts = target.split(".")[1:] + ([imported] if imported else [])
            if any(part.startswith("_") for part in parts):
                private.append(f"{source} imports {target}"
                               f"{'.' + imported if imported else ''} at line {line}")
    return private


def circles(edges: Edges) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan)."""
    graph = {source: {target for target, _, _ in found if target != source and target in edges}
             for source, found in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found_circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found_circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found_circles


def test_every_module_is_parsed():
    assert len(MODULES) > 30
    assert any(target == "sgdsde.sgd" for target, _, _ in EDGES["sgdsde.scaling._batch"])


def test_layers_import_only_downwards():
    found = upward_imports(EDGES)
    assert not found, "\n".join(found)


def test_no_private_name_of_another_package_is_imported():
    found = private_imports(EDGES)
    assert not found, "\n".join(found)


def test_no_import_circles():
    assert not circles(EDGES)


def test_the_checks_flag_what_they_are_for():
    """The three rules on made-up edges: an upward import, a private name of another package
    and a circle are each flagged (so the tests above cannot pass vacuously)."""
    made_up = {
        "sgdsde.config": [("sgdsde.learning", "load_dataset", 1)],
        "sgdsde.learning": [("sgdsde.config", None, 1)],
        "sgdsde.scaling._sweep": [("sgdsde.sgd", "_sgd_ensemble", 2),
                                  ("sgdsde.scaling._store", None, 3),
                                  ("sgdsde._io", "atomic_write", 4)],
    }
    assert upward_imports(made_up) == [
        "sgdsde.config (layer 0) imports sgdsde.learning (layer 1) at line 1"]
    assert private_imports(made_up) == [
        "sgdsde.scaling._sweep imports sgdsde.sgd._sgd_ensemble at line 2"]
    assert circles(made_up) == [["sgdsde.config", "sgdsde.learning"]]


PACKAGES = sorted({module_name(p) for p in ROOT.joinpath("sgdsde").rglob("__init__.py")})


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_of_a_package_resolves(package):
    """Packages export their names lazily (``sgdsde._lazy``): every name of ``__all__`` is
    found where its mapping says, and ``dir()`` lists it; an unknown name is an
    AttributeError naming it."""
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, (package, name)
        assert name in dir(module), (package, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def fresh_interpreter(code: str) -> list[str]:
    """The words `code` prints, run by a new Python process (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_subpackages_are_attributes_and_lazy_names_load_from_many_threads():
    """In a fresh interpreter: ``sgdsde.scaling.read_results`` and ``sgdsde.tour.bonferroni_z``
    work after a bare ``import sgdsde`` (fails without the submodule fallback), and 12 threads
    touching lazy names at once (JAX not yet imported) all get them — a smoke check only: the
    import race that ``sgdsde._lazy``'s lock prevents did not show here without the lock."""
    code = ("import sgdsde, threading; names = ['simulate_sgd', 'run_sweep', 'learned_surface', "
            "'Adam', 'analyse_sweep', 'SDEConfig'] * 2; errors = []\n"
            "def touch(name):\n"
            "    try: getattr(sgdsde, name)\n"
            "    except Exception as exc: errors.append(repr(exc))\n"
            "threads = [threading.Thread(target=touch, args=(n,)) for n in names]\n"
            "[t.start() for t in threads]; [t.join() for t in threads]\n"
            "print(errors, callable(sgdsde.scaling.read_results), "
            "callable(sgdsde.tour.bonferroni_z))")
    assert fresh_interpreter(code) == ["[]", "True", "True"]


def test_a_sweep_command_does_not_load_plotting_statistics_or_the_tour():
    """``sgdsde`` starts, and a sweep loads its (cached) data and builds its surfaces, without
    matplotlib, SciPy or the tour: the commands that need them load them when they run."""
    from sgdsde import load_dataset

    load_dataset("mnist1d", n_train=100, n_test=100)  # generated here if not cached yet
    code = ("import sys, sgdsde.cli, sgdsde; "
            "sgdsde.learned_surface(sgdsde.load_dataset('mnist1d', n_train=100, n_test=100), "
            "width=8); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'matplotlib', 'scipy', 'pandas'}), 'sgdsde.tour._run' in sys.modules)")
    assert fresh_interpreter(code) == ["[]", "False"]


def user_code() -> list[tuple[str, str]]:
    """(where, source) of every script, benchmark and notebook code cell."""
    sources = [(str(p.relative_to(ROOT)), p.read_text())
               for folder in ("experiments", "benchmarks") for p in (ROOT / folder).glob("*.py")]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        sources += [(f"{notebook.name} cell {i}", "".join(cell["source"]))
                    for i, cell in enumerate(cells) if cell["cell_type"] == "code"]
    return sources


@pytest.mark.parametrize(("where", "source"), user_code(), ids=lambda value: str(value)[:40])
def test_scripts_and_notebooks_use_the_public_api(where, source):
    tree = ast.parse("\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!"))))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sgdsde"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("sgdsde")]
        else:
            continue
        for name in names:
            parts = name.split(".")
            assert not any(part.startswith("_") for part in parts[1:]), (where, name)
        if isinstance(node, ast.ImportFrom):
            assert len(node.module.split(".")) <= 2, (where, node.module)
