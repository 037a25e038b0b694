"""The README's Python example runs as printed (slow: it trains small MLP ensembles)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)  # the example writes results/quick-tour
    exec(compile(blocks[0], str(README), "exec"), {})
    assert (tmp_path / "results" / "quick-tour" / "report.md").is_file()
