"""The notebooks under notebooks/ run top to bottom without an error, in a kernel that uses this
interpreter, and are committed with their outputs stripped."""

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_sgd_as_an_sde.ipynb",
    "02_learned_surfaces.ipynb",
    "03_batch_size_scaling.ipynb",
    "04_evidence.ipynb",
    "05_adam_batch_size.ipynb",
    "06_choosing_a_batch_size.ipynb",
}
KERNEL = "python3"


def execute(nb: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in `workdir`; raises on the first cell error."""
    client = NotebookClient(nb, timeout=600, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(workdir)}})
    return client.execute()


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """The kernel inherits the environment: no display (the notebooks' `%matplotlib inline`
    renders figures as PNG outputs; Agg for anything else) and make
    temporary files (a notebook's outputs) under pytest's `tmp_path`. Returns the kernel's
    working directory, an empty folder."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return workdir


def test_every_notebook_is_collected():
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


def test_kernel_runs_this_interpreter(kernel_env):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys; print(sys.executable); print(sys.prefix)")])
    execute(nb, kernel_env)
    printed = nb.cells[0].outputs[0].text.split()
    assert printed == [sys.executable, sys.prefix]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    execute(nb, kernel_env)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert not list(kernel_env.iterdir()), "the notebook wrote into its working directory"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "no figure was displayed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == KERNEL
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        assert "widgets" not in cell.metadata
        assert "execution" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"
