"""The Markdown report of a tour: per claim, what was predicted, what was measured (± standard
error) and whether it held, followed by the numbers, the figures and the provenance.

Built from the JSON-ready record (``TourResult.to_dict()`` as stored in ``results.json``), so a
report can be regenerated from saved results without rerunning anything.
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


def _cell(text: str) -> str:
    """Text for a Markdown table cell (pipes escaped)."""
    return str(text).replace("|", "\\|")


def _matrix(value: Any) -> str:
    if value is None:
        return "n/a"
    array = np.array(value, dtype=float)
    return "[" + "; ".join(" ".join(f"{x:.4g}" for x in row) for row in array) + "]"


def _pm(value: Any, stderr: Any) -> str:
    if value is None:
        return "NaN"
    return f"{value:.4g} ± {stderr:.2g}" if stderr is not None else f"{value:.4g}"


def _comparison_table(title: str, record: Mapping[str, Any]) -> list[str]:
    diverged = record["diverged_fraction"]
    lines = [
        f"### {title}",
        "",
        f"ε = {record['lr']}, m = {record['momentum']}, B = {record['batch_size']}, "
        f"N = {record['n_train'] or '∞'}, {record['steps']} updates from θ* "
        f"(stationary after {record['stationary_after_steps']}), P = {record['paths']} paths, "
        f"SDE {record['sde_model']} with {record['sde_solver']}, dt = {record['sde_dt']:.4g}, "
        f"{record['brownian']}.",
        "",
        "| entry | SGD ± stderr | discrete Lyapunov | SDE ± stderr | continuous Lyapunov |",
        "| --- | --- | --- | --- | --- |",
    ]
    dim = len(record["hessian"])
    for i, j in zip(*np.triu_indices(dim), strict=True):
        def entry(key: str, i: int = int(i), j: int = int(j)) -> Any:
            matrix = record[key]
            return None if matrix is None or matrix[i][j] is None else matrix[i][j]

        lines.append(
            f"| ({i + 1},{j + 1}) | {_pm(entry('sgd_cov'), entry('sgd_cov_stderr'))} | "
            f"{_pm(entry('theory_sgd_cov'), None)} | "
            f"{_pm(entry('sde_cov'), entry('sde_cov_stderr'))} | "
            f"{_pm(entry('theory_sde_cov'), None)} |"
        )
    trace = record.get("trace_gap", {})
    lines += [
        "",
        f"Closed-form relative gap ‖P_sgd − P_sde‖_F/‖P_sde‖_F = "
        f"{record['theory_relative_gap']:.4g}; trace gap measured "
        f"{_pm(trace.get('measured'), trace.get('stderr'))} vs predicted "
        f"{_pm(trace.get('predicted'), None)}; Gaussian W2(SGD, SDE) = "
        f"{_pm(record['w2_sgd_sde'], record['w2_sgd_sde_stderr'])} (biased upwards by "
        f"sampling noise); diverged fraction SGD {diverged['sgd']}, SDE {diverged['sde']}.",
        "",
    ]
    return lines


def _scaling_table(title: str, record: Mapping[str, Any]) -> list[str]:
    theory = record.get("theory")
    lines = [
        f"### {title}",
        "",
        f"Observable: {record['observable']}; model {record['model']}; fitted log-log slope "
        f"**{_pm(record['slope'], record['slope_stderr'])}**.",
        "",
        "| ε | measured gap ± stderr | closed form |",
        "| --- | --- | --- |",
    ]
    for index, lr in enumerate(record["lrs"]):
        closed = "—" if theory is None else _pm(theory[index], None)
        lines.append(f"| {lr:.4g} | {_pm(record['gaps'][index], record['stderrs'][index])} | "
                     f"{closed} |")
    return lines + [""]


def quadratic_markdown(results: Mapping[str, Any]) -> list[str]:
    """The quadratic section's body: the stationary covariances against the closed forms and
    the ε-scaling tables, from ``TourResult.to_dict()``."""
    titles = {
        "plain_sme1": "Plain SGD (m = 0) vs first-order SME",
        "momentum_underdamped": "Heavy ball vs underdamped SDE",
        "momentum_sme1": "Heavy ball vs first-order SME (contrast)",
    }
    comparisons = results["comparisons"]
    first = next(iter(comparisons.values()))
    lines = [
        f"H = {_matrix(first['hessian'])}, C = {_matrix(first['noise_cov'])} (C rotated "
        "away from H's eigenbasis, so they do not commute).",
        "",
    ]
    for key, record in comparisons.items():
        lines += _comparison_table(titles.get(key, key), record)
    lines += _scaling_table("Stationary gap on the quadratic", results["stationary_gap_scaling"])
    for model, record in results["weak_gap_scaling"].items():
        lines += _scaling_table(f"Weak error on the double well ({model})", record)
    return lines


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
        cells = [_cell(claim[k]) for k in ("statement", "predicted", "measured", "test")]
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


__all__ = ["build_report", "environment", "quadratic_markdown"]
