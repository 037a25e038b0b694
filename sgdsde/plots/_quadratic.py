"""Matplotlib figures, one function per figure, no computation inside.

Each function takes the JSON-ready records the library produces, so a figure can be redrawn
from a saved ``results.json``, and returns a :class:`matplotlib.figure.Figure` built without
pyplot (so the library never picks a backend, never opens a window and keeps no global figure
state; Jupyter displays the returned figure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._figure import Record, as_array, subplots


def covariance_figure(records: Mapping[str, Record]) -> Figure:
    """Stationary covariance entries: SGD ± stderr beside the discrete Lyapunov solution and
    the SDE ± stderr beside its continuous Lyapunov solution, one panel per comparison.

    **Arguments:**

    - `records`: panel title → ``QuadraticComparison.to_dict()``.

    **Returns:** the figure.
    """
    fig, axes = subplots(1, len(records), figsize=(5.2 * len(records), 4.0), squeeze=False)
    for ax, (title, record) in zip(axes[0], records.items(), strict=True):
        dim = len(record["hessian"])
        rows, cols = np.triu_indices(dim)
        labels = [f"({i + 1},{j + 1})" for i, j in zip(rows, cols, strict=True)]
        x = np.arange(len(labels))
        series = [
            ("SGD", "sgd_cov", "sgd_cov_stderr", "C0"),
            (f"SDE ({record['sde_model']})", "sde_cov", "sde_cov_stderr", "C1"),
        ]
        width = 0.2
        for offset, (name, key, err_key, color) in zip((-1.5, 0.5), series, strict=True):
            value = as_array(record[key])[rows, cols]
            stderr = as_array(record[err_key])[rows, cols]
            ax.errorbar(x + offset * width, value, yerr=stderr, fmt="o", color=color,
                        capsize=3, label=f"{name} ± stderr")
        for offset, key, name, color in (
            (-0.5, "theory_sgd_cov", "discrete Lyapunov", "C0"),
            (1.5, "theory_sde_cov", "continuous Lyapunov", "C1"),
        ):
            ax.scatter(x + offset * width, as_array(record[key])[rows, cols], marker="_", s=200,
                       color=color, linewidths=2.5, label=name)
        ax.axhline(0.0, color="0.7", linewidth=0.8)
        ax.set_xticks(x, labels)
        ax.set_xlabel("covariance entry (i, j)")
        ax.set_ylabel("stationary covariance")
        ax.set_title(f"{title}\nε={record['lr']}, m={record['momentum']}, "
                     f"P={record['paths']}", fontsize=10)
        ax.legend(fontsize=7)
    return fig


def _reference_line(ax: Any, lrs: np.ndarray, anchor: float, slope: float, **style: Any) -> None:
    ax.plot(lrs, anchor * (lrs / lrs[0]) ** slope, **style)


def gap_scaling_figure(record: Record, *, ax: Any = None, label: str | None = None,
                       color: str = "C0") -> Figure:
    """Measured SGD–SDE gap against ε on log-log axes, with error bars, the fitted power law,
    a slope-1 reference and the closed-form gap where the record has one.

    Non-positive or unresolved gaps (below two standard errors) are drawn as hollow markers
    at |gap|.

    **Arguments:**

    - `record`: ``GapScaling.to_dict()`` (keys lrs, gaps, stderrs, theory, slope,
      slope_stderr, and optionally intercept = log gap at ε = 1 of the fit).
    - `ax`: draw into these axes instead of a new figure.

    **Returns:** the figure.
    """
    if ax is None:
        fig, ax = subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    lrs = as_array(record["lrs"])
    gaps = as_array(record["gaps"])
    stderrs = as_array(record["stderrs"])
    name = label or record.get("model", "gap")
    resolved = (gaps > 0) & (gaps > 2 * stderrs)
    magnitude = np.abs(gaps)
    ax.errorbar(lrs[resolved], magnitude[resolved], yerr=stderrs[resolved], fmt="o",
                color=color, capsize=3, label=f"{name}: measured ± stderr")
    if np.any(~resolved):
        ax.errorbar(lrs[~resolved], magnitude[~resolved], yerr=stderrs[~resolved], fmt="o",
                    mfc="none", color=color, capsize=3, label=f"{name}: unresolved (|gap|)")
    slope = float(as_array(record["slope"]))
    intercept = record.get("intercept")
    if intercept is not None and np.isfinite(slope):
        ax.plot(lrs, np.exp(float(intercept)) * lrs**slope, "-", color=color,
                label=f"fit: slope {slope:.2f} ± {float(as_array(record['slope_stderr'])):.2f}")
    elif np.isfinite(slope):
        ax.plot([], [], " ", label=f"fit: slope {slope:.2f} ± "
                f"{float(as_array(record['slope_stderr'])):.2f}")
    if record.get("theory") is not None:
        theory = as_array(record["theory"])
        ax.plot(lrs, theory, "--", color="k", label="closed form")
        anchor = theory[0]
    else:
        anchor = magnitude[0] if np.isfinite(magnitude[0]) and magnitude[0] > 0 else 1.0
    _reference_line(ax, lrs, anchor, 1.0, linestyle=":", color="0.5", label="slope 1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate ε")
    ax.set_ylabel(record.get("observable", "gap"))
    ax.legend(fontsize=7)
    return fig


def weak_gap_figure(records: Mapping[str, Record]) -> Figure:
    """Finite-horizon weak error against ε for several SDE models (first- vs second-order
    SME) on shared log-log axes, with slope-1 and slope-2 references.

    **Arguments:**

    - `records`: model label → ``GapScaling.to_dict()``.

    **Returns:** the figure.
    """
    fig, ax = subplots(figsize=(5.5, 4.2))
    for index, (label, record) in enumerate(records.items()):
        lrs = as_array(record["lrs"])
        gaps, stderrs = as_array(record["gaps"]), as_array(record["stderrs"])
        resolved = np.abs(gaps) > 2 * stderrs
        color = f"C{index}"
        slope = float(as_array(record["slope"]))
        ax.errorbar(lrs[resolved], np.abs(gaps[resolved]), yerr=stderrs[resolved], fmt="o-",
                    color=color, capsize=3,
                    label=f"{label}: slope {slope:.2f} ± "
                    f"{float(as_array(record['slope_stderr'])):.2f}")
        if np.any(~resolved):
            ax.errorbar(lrs[~resolved], np.abs(gaps[~resolved]), yerr=stderrs[~resolved],
                        fmt="o", mfc="none", color=color, capsize=3,
                        label=f"{label}: below 2 stderr")
    first = next(iter(records.values()))
    lrs = as_array(first["lrs"])
    anchor = float(np.nanmax(np.abs(as_array(first["gaps"])))) or 1.0
    anchor_at = lrs / lrs[-1]
    ax.plot(lrs, anchor * anchor_at, ":", color="0.4", label="slope 1")
    ax.plot(lrs, anchor * anchor_at**2, "--", color="0.6", label="slope 2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate ε")
    ax.set_ylabel("|" + first.get("observable", "weak error") + "|")
    ax.set_title("weak error: SGD vs SDE on the double well", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def quadratic_figures(results: Mapping[str, Any]) -> dict[str, Figure]:
    """The tour's figures from its ``results.json`` record: file stem → figure."""
    comparisons = results["comparisons"]
    return {
        "covariance_plain": covariance_figure(
            {"m = 0: SGD vs first-order SME": comparisons["plain_sme1"]}
        ),
        "covariance_momentum": covariance_figure({
            "heavy ball vs underdamped SDE": comparisons["momentum_underdamped"],
            "heavy ball vs first-order SME": comparisons["momentum_sme1"],
        }),
        "stationary_gap": gap_scaling_figure(results["stationary_gap_scaling"]),
        "weak_gap": weak_gap_figure(results["weak_gap_scaling"]),
    }


