"""The Markdown of the quadratic part of the tour's report: the stationary covariances against
the closed forms and the ε-scaling tables, from ``QuadraticTourResult.to_dict()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._report import matrix_cell, pm_cell


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
            f"| ({i + 1},{j + 1}) | {pm_cell(entry('sgd_cov'), entry('sgd_cov_stderr'))} | "
            f"{pm_cell(entry('theory_sgd_cov'), None)} | "
            f"{pm_cell(entry('sde_cov'), entry('sde_cov_stderr'))} | "
            f"{pm_cell(entry('theory_sde_cov'), None)} |"
        )
    trace = record.get("trace_gap", {})
    lines += [
        "",
        f"Closed-form relative gap ‖P_sgd − P_sde‖_F/‖P_sde‖_F = "
        f"{record['theory_relative_gap']:.4g}; trace gap measured "
        f"{pm_cell(trace.get('measured'), trace.get('stderr'))} vs predicted "
        f"{pm_cell(trace.get('predicted'), None)}; Gaussian W2(SGD, SDE) = "
        f"{pm_cell(record['w2_sgd_sde'], record['w2_sgd_sde_stderr'])} (biased upwards by "
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
        f"**{pm_cell(record['slope'], record['slope_stderr'])}**.",
        "",
        "| ε | measured gap ± stderr | closed form |",
        "| --- | --- | --- |",
    ]
    for index, lr in enumerate(record["lrs"]):
        closed = "—" if theory is None else pm_cell(theory[index], None)
        lines.append(f"| {lr:.4g} | {pm_cell(record['gaps'][index], record['stderrs'][index])} | "
                     f"{closed} |")
    return lines + [""]


def quadratic_markdown(results: Mapping[str, Any]) -> list[str]:
    """The quadratic section's body: the stationary covariances against the closed forms and
    the ε-scaling tables, from ``QuadraticTourResult.to_dict()``."""
    titles = {
        "plain_sme1": "Plain SGD (m = 0) vs first-order SME",
        "momentum_underdamped": "Heavy ball vs underdamped SDE",
        "momentum_sme1": "Heavy ball vs first-order SME (contrast)",
    }
    comparisons = results["comparisons"]
    first = next(iter(comparisons.values()))
    lines = [
        f"H = {matrix_cell(first['hessian'])}, C = {matrix_cell(first['noise_cov'])} (C rotated "
        "away from H's eigenbasis, so they do not commute).",
        "",
    ]
    for key, record in comparisons.items():
        lines += _comparison_table(titles.get(key, key), record)
    lines += _scaling_table("Stationary gap on the quadratic", results["stationary_gap_scaling"])
    for model, record in results["weak_gap_scaling"].items():
        lines += _scaling_table(f"Weak error on the double well ({model})", record)
    return lines
