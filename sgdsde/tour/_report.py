"""The Markdown report of a tour: per claim, what was predicted, what was measured (± standard
error) and whether it held, followed by the numbers, the figures and the provenance.

Built from the JSON-ready record (as stored in ``results.json``), so a report can be
regenerated from saved results without rerunning anything.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_PACKAGES = ("sgdsde", "jax", "jaxlib", "diffrax", "equinox", "lineax", "optax", "numpy", "scipy")


def environment() -> dict[str, str]:
    """Python, platform and the versions of the numerical packages."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def table_cell(text: str) -> str:
    """Text for a Markdown table cell (pipes escaped)."""
    return str(text).replace("|", "\\|")


def matrix_cell(value: Any) -> str:
    if value is None:
        return "n/a"
    array = np.array(value, dtype=float)
    return "[" + "; ".join(" ".join(f"{x:.4g}" for x in row) for row in array) + "]"


def pm_cell(value: Any, stderr: Any) -> str:
    if value is None:
        return "NaN"
    return f"{value:.4g} ± {stderr:.2g}" if stderr is not None else f"{value:.4g}"


def build_report(
    results: Mapping[str, Any],
    bodies: Mapping[str, Sequence[str]],
    figures: Mapping[str, Sequence[str]] | None = None,
    environment_record: Mapping[str, str] | None = None,
) -> str:
    """The tour's single Markdown report: every claim in one table, then one section per part
    of the tour with its tables and figures, then the provenance.

    **Arguments:**

    - `results`: the tour's ``results.json`` record: ``sections`` (section key → its record,
      each with ``title`` and ``claims``), optionally ``seconds`` (per section) and
      ``wall_seconds``, ``device``.
    - `bodies`: section key → the Markdown lines of its body.
    - `figures`: section key → file names of its saved figures (relative to the report).
    - `environment_record`: versions and platform (default: :func:`environment` now).

    **Returns:** the report text.
    """
    env = dict(environment_record or environment())
    sections = results["sections"]
    claims = [(key, c) for key, record in sections.items() for c in record["claims"]]
    held = sum(bool(c["held"]) for _, c in claims)
    lines = [
        "# sgdsde tour",
        "",
        f"**{held} of {len(claims)} claims held.** Every check is a fixed statistical test "
        "stated beside it (family-wise α = 0.01 unless said otherwise), with error bars from "
        "the ensembles and seeds themselves.",
        "",
        "## Claims",
        "",
        "| | part | claim | predicted | measured | test |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, claim in claims:
        mark = "✅ held" if claim["held"] else "❌ failed"
        cells = [table_cell(claim[k]) for k in ("statement", "predicted", "measured", "test")]
        lines.append(f"| {mark} | {key} | " + " | ".join(cells) + " |")
    for key, record in sections.items():
        lines += ["", f"## {record['title']}", "", *bodies.get(key, [])]
        lines += [f"![{name}]({name})" for name in (figures or {}).get(key, [])]
    seconds = results.get("seconds", {})
    lines += [
        "",
        "## Provenance",
        "",
        f"- device: {results.get('device', 'unknown')}",
        f"- sgdsde {env.get('sgdsde', '?')}",
        "- " + ", ".join(f"{k} {v}" for k, v in env.items() if k not in ("sgdsde",)),
        "- section times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()),
    ]
    if "wall_seconds" in results:
        lines.append(f"- wall time: {results['wall_seconds']:.1f} s")
    lines += [f"- settings of {key}: `{record.get('settings', {})}`"
              for key, record in sections.items()]
    return "\n".join(lines) + "\n"


__all__ = ["build_report", "environment", "matrix_cell", "pm_cell", "table_cell"]
