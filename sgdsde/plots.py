"""Matplotlib figures, one function per figure, no computation inside.

Each function takes the JSON-ready records the library produces (``QuadraticComparison.to_dict``,
``GapScaling.to_dict``, ``LearnedComparison.to_dict``), so a figure can be redrawn from a saved
``results.json``, and returns a :class:`matplotlib.figure.Figure` built without pyplot (so the
library never picks a backend, never opens a window and keeps no global figure state; Jupyter
displays the returned figure). :func:`save_figure` writes one atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

Record = Mapping[str, Any]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             squeeze: bool = True, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure and its axes grid like ``pyplot.subplots`` (constrained layout), but a plain
    :class:`~matplotlib.figure.Figure` outside pyplot's state."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)


def _array(value: Any) -> np.ndarray:
    """A float array with ``None`` (JSON null) as NaN."""
    return np.array(value if value is not None else np.nan, dtype=float)


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
            value = _array(record[key])[rows, cols]
            stderr = _array(record[err_key])[rows, cols]
            ax.errorbar(x + offset * width, value, yerr=stderr, fmt="o", color=color,
                        capsize=3, label=f"{name} ± stderr")
        for offset, key, name, color in (
            (-0.5, "theory_sgd_cov", "discrete Lyapunov", "C0"),
            (1.5, "theory_sde_cov", "continuous Lyapunov", "C1"),
        ):
            ax.scatter(x + offset * width, _array(record[key])[rows, cols], marker="_", s=200,
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
    lrs = _array(record["lrs"])
    gaps = _array(record["gaps"])
    stderrs = _array(record["stderrs"])
    name = label or record.get("model", "gap")
    resolved = (gaps > 0) & (gaps > 2 * stderrs)
    magnitude = np.abs(gaps)
    ax.errorbar(lrs[resolved], magnitude[resolved], yerr=stderrs[resolved], fmt="o",
                color=color, capsize=3, label=f"{name}: measured ± stderr")
    if np.any(~resolved):
        ax.errorbar(lrs[~resolved], magnitude[~resolved], yerr=stderrs[~resolved], fmt="o",
                    mfc="none", color=color, capsize=3, label=f"{name}: unresolved (|gap|)")
    slope = float(_array(record["slope"]))
    intercept = record.get("intercept")
    if intercept is not None and np.isfinite(slope):
        ax.plot(lrs, np.exp(float(intercept)) * lrs**slope, "-", color=color,
                label=f"fit: slope {slope:.2f} ± {float(_array(record['slope_stderr'])):.2f}")
    elif np.isfinite(slope):
        ax.plot([], [], " ", label=f"fit: slope {slope:.2f} ± "
                f"{float(_array(record['slope_stderr'])):.2f}")
    if record.get("theory") is not None:
        theory = _array(record["theory"])
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
        lrs = _array(record["lrs"])
        gaps, stderrs = _array(record["gaps"]), _array(record["stderrs"])
        resolved = np.abs(gaps) > 2 * stderrs
        color = f"C{index}"
        slope = float(_array(record["slope"]))
        ax.errorbar(lrs[resolved], np.abs(gaps[resolved]), yerr=stderrs[resolved], fmt="o-",
                    color=color, capsize=3,
                    label=f"{label}: slope {slope:.2f} ± "
                    f"{float(_array(record['slope_stderr'])):.2f}")
        if np.any(~resolved):
            ax.errorbar(lrs[~resolved], np.abs(gaps[~resolved]), yerr=stderrs[~resolved],
                        fmt="o", mfc="none", color=color, capsize=3,
                        label=f"{label}: below 2 stderr")
    first = next(iter(records.values()))
    lrs = _array(first["lrs"])
    anchor = float(np.nanmax(np.abs(_array(first["gaps"])))) or 1.0
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


LEARNED_PANELS = (
    ("train_loss", "train loss (cross-entropy)"),
    ("test_loss", "test loss (cross-entropy)"),
    ("test_accuracy", "test accuracy"),
)


def learned_trajectories_figure(record: Record, *, title: str | None = None) -> Figure:
    """Train loss, test loss and test accuracy of SGD and of its SDE against SGD steps, each
    ensemble mean with a ±stderr band, one panel per metric; the top axis gives the SDE time
    t = k·ε/(1−m) of the first-order SMEs (t = k for the underdamped SDE).

    **Arguments:**

    - `record`: ``LearnedComparison.to_dict()`` (keys steps, sgd, sde, lr, momentum,
      batch_size, n_train, paths, sde_model; NaN may be ``None``), optionally with
      ``dataset`` (``Dataset.describe()``) for a chance line at 1/n_classes.
    - `title`: a line above the panels (default: the run's settings).

    **Returns:** the figure.
    """
    fig, axes = subplots(1, len(LEARNED_PANELS), figsize=(15.0, 4.0), squeeze=False)
    steps = _array(record["steps"])
    tau = 1.0 if record["sde_model"] == "underdamped" else record["lr"] / (1 - record["momentum"])
    series = (("SGD", "sgd", "C0", "-"), (f"SDE ({record['sde_model']})", "sde", "C1", "--"))
    n_classes = (record.get("dataset") or {}).get("n_classes")
    for ax, (key, label) in zip(axes[0], LEARNED_PANELS, strict=True):
        for name, side, color, style in series:
            mean = _array(record[side][key]["mean"])
            stderr = _array(record[side][key]["stderr"])
            ax.plot(steps, mean, style, marker="o", markersize=3, color=color,
                    label=f"{name} ± stderr")
            ax.fill_between(steps, mean - stderr, mean + stderr, color=color, alpha=0.25,
                            linewidth=0)
        if key == "test_accuracy" and n_classes:
            ax.axhline(1.0 / n_classes, color="0.6", linestyle=":", label="chance")
        ax.set_xlabel("SGD steps k")
        ax.set_ylabel(label)
        top = ax.secondary_xaxis("top", functions=(lambda k: k * tau, lambda t: t / tau))
        top.set_xlabel("SDE time t", fontsize=8)
        ax.legend(fontsize=7)
    if title is None:
        where = (f" on {record['dataset']['name']}, {record['surface']['model']}"
                 if "dataset" in record and "surface" in record else "")
        title = (f"SGD vs {record['sde_model']}{where}: ε={record['lr']:.4g}, "
                 f"m={record['momentum']}, B={record['batch_size']}, N={record['n_train']}, "
                 f"P={record['paths']}")
    fig.suptitle(title, fontsize=10)
    return fig


def _readable(path: str) -> None:
    """Give a mkstemp file (mode 0600) the permissions an ordinary new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` as PNG to `path` atomically (temporary file, then ``os.replace``)."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    _readable(tmp)
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def figures_from_results(results: Mapping[str, Any]) -> dict[str, Figure]:
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


__all__ = ["covariance_figure", "gap_scaling_figure", "weak_gap_figure",
           "learned_trajectories_figure", "save_figure", "figures_from_results"]

