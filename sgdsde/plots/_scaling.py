"""Batch-size scaling figures (docs/theory.md §4), drawn from the results of :mod:`sgdsde.scaling`;
no computation inside."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .. import theory
from ..scaling import BOpt, Collapse, GOptFit, ScalingFit, SweepAnalysis
from ._figure import subplots

VARIABLE_LABELS = {"lr": "learning rate ε", "n_train": "training-set size N",
                   "inv_one_minus_m": "1/(1 − m)"}


def accuracy_vs_batch_figure(b_opts: Sequence[BOpt], title: str = "", *,
                             mark_optimum: bool = True) -> Figure:
    """The metric against the batch size (log axis), one line per slice: seed means with
    standard-error bars and, with `mark_optimum`, the fitted quadratic in log B over its window
    (dashed) and B_opt with its jackknife-t interval (a horizontal bar at the fitted peak). An
    optimum at the grid's edge is drawn hollow; diverged runs are counted in the legend.

    **Arguments:**

    - `b_opts`: output of :func:`sgdsde.scaling.locate_b_opt`.
    - `title`: the figure's title.
    - `mark_optimum`: draw the fit and B_opt (off for a metric whose optimum is not the point,
      e.g. train accuracy as a measure of memorisation).

    **Returns:** the figure.
    """
    fig, ax = subplots(figsize=(7.5, 4.8))
    for index, b in enumerate(b_opts):
        color = f"C{index % 10}"
        label = f"ε={b.lr:g}, N={b.n_train}, m={b.momentum:g}"
        if b.n_diverged:
            label += f" ({b.n_diverged} diverged)"
        ax.errorbar(b.batch_sizes, b.means, yerr=np.nan_to_num(b.stderrs), fmt="-o",
                    color=color, markersize=3, capsize=2, label=label)
        if not mark_optimum:
            continue
        ax.plot(b.fit_b, b.fit_values, "--", color=color, linewidth=1)
        # The percentile interval need not contain the point estimate: draw it as a bar.
        ax.plot([b.ci_low, b.ci_high], [b.peak_value] * 2, "-|", color=color, linewidth=1.5)
        ax.plot([b.b_opt], [b.peak_value], "D", color=color, markersize=7,
                markerfacecolor=color if b.usable else "none")
    ax.set_xscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel(b_opts[0].metric.replace("_", " ") if b_opts else "")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or ("metric vs batch size; ◆ = B_opt (jackknife-t interval), hollow = "
                           "not located (edge, not concave)" if mark_optimum
                           else "metric vs batch size"), fontsize=9)
    return fig


def collapse_figure(collapse: Collapse, title: str = "") -> Figure:
    """The metric against the noise scale g = ε(N/B − 1)/(1 − m) (log axis), one line per curve
    (seed means ± standard error); the log-g overlap on which the collapse is tested is shaded
    and the spread between curves with its upper bound and margin, and the score with its
    permutation null, are printed.

    **Arguments:**

    - `collapse`: output of :func:`sgdsde.scaling.collapse_in_g`.
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    fig, ax = subplots(figsize=(7.5, 4.8))
    by = "ε" if collapse.by == "lr" else collapse.by
    for index, c in enumerate(collapse.curves):
        ax.errorbar(c.g, c.means, yerr=np.nan_to_num(c.stderrs), fmt="-o", markersize=3,
                    capsize=2, color=f"C{index % 10}", label=f"{by} = {c.label:g}")
    if collapse.overlap is not None:
        ax.axvspan(*collapse.overlap, color="grey", alpha=0.12, label="overlap (scored)")
    ax.text(0.02, 0.03, f"spread {collapse.spread:.2g} (upper bound {collapse.spread_high:.2g}, "
            f"margin {collapse.margin:.2g}); score {collapse.score:.3g}, permutation null "
            f"{collapse.permutation_mean:.3g}", transform=ax.transAxes, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("noise scale g = ε(N/B − 1)/(1 − m)")
    ax.set_ylabel(collapse.metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or "collapse in g", fontsize=9)
    return fig


def scaling_figure(fit: ScalingFit, title: str = "") -> Figure:
    """B_opt against the scaling variable, log–log, one colour per group of the variables held
    fixed: estimates with their jackknife-t intervals, the fitted line (solid, common slope) and
    the exact prediction εN/(ε + g_opt(1 − m)) at the fitted g_opt (dotted, where given); the
    slopes and the interval in the legend.

    **Arguments:**

    - `fit`: output of :func:`sgdsde.scaling.fit_scaling`.
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    fig, ax = subplots(figsize=(6.5, 4.8))
    predicted = np.isfinite(fit.predicted_slope)
    for gi, labels in enumerate(fit.group_labels):
        color = f"C{gi % 10}"
        sel = fit.group == gi
        x, b = fit.x[sel], fit.b_opt[sel]
        name = ", ".join(f"{k}={v:g}" for k, v in labels.items())
        ax.errorbar(x, b, yerr=[b - fit.b_low[sel], fit.b_high[sel] - b], fmt="o", color=color,
                    capsize=3, label=name)
        xs = np.array([x.min(), x.max()])
        ax.plot(xs, np.exp(fit.intercepts[gi]) * xs**fit.slope, "-", color=color)
        if predicted:
            ax.plot(xs, np.exp(fit.predicted_intercepts[gi]) * xs**fit.predicted_slope, ":",
                    color=color)
    level = f"{fit.confidence:.0%}"
    ax.plot([], [], "-", color="k", label=f"fit: slope {fit.slope:.3f} "
            f"[{fit.ci_low:.3f}, {fit.ci_high:.3f}] ({level})")
    if predicted:
        ax.plot([], [], ":", color="k", label=f"predicted at g_opt: slope "
                f"{fit.predicted_slope:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(VARIABLE_LABELS.get(fit.variable, fit.variable))
    ax.set_ylabel("B_opt")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title or f"B_opt vs {VARIABLE_LABELS.get(fit.variable, fit.variable)}",
                 fontsize=9)
    return fig


def g_opt_figure(b_opts: Sequence[BOpt], fit: GOptFit, variable: str, title: str = "") -> Figure:
    """The noise scale each located slice's optimum implies, g = ε(N/B_opt − 1)/(1 − m), with
    the interval its B_opt interval implies, against the scaling variable (log axes), beside
    the one g_opt fitted to all slices (line and band): where the law B_opt = εN/(ε +
    g_opt(1 − m)) holds these points are level; a drift shows where it fails.

    **Arguments:**

    - `b_opts`: output of :func:`sgdsde.scaling.locate_b_opt`.
    - `fit`: output of :func:`sgdsde.scaling.fit_g_opt` on them.
    - `variable`: ``"lr"``, ``"n_train"`` or ``"inv_one_minus_m"`` for the x axis.
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    fig, ax = subplots(figsize=(6.5, 4.5))
    located = [b for b in b_opts if b.usable]

    def implied(b: BOpt, batch: float) -> float:
        return theory.noise_scale(b.lr, batch, b.n_train, b.momentum)

    x = np.array([getattr(b, variable) for b in located], float)
    g = np.array([implied(b, b.b_opt) for b in located])
    low = np.array([implied(b, b.ci_high) for b in located])
    high = np.array([implied(b, b.ci_low) for b in located])
    ax.errorbar(x, g, yerr=[g - low, high - g], fmt="o", capsize=3,
                label="g at each slice's B_opt (interval from B_opt's)")
    span = np.array([x.min(), x.max()]) if x.size else np.array([1.0, 2.0])
    ax.plot(span, [fit.g_opt] * 2, "-", color="k",
            label=f"one g_opt = {fit.g_opt:.3g} (goodness of fit p = {fit.p_value:.2g})")
    ax.fill_between(span, fit.ci_low, fit.ci_high, color="k", alpha=0.12)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(VARIABLE_LABELS.get(variable, variable))
    ax.set_ylabel("noise scale g at B_opt")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title or "is g_opt the same in every slice?", fontsize=9)
    return fig


def scaling_figures(analysis: SweepAnalysis) -> dict[str, Figure]:
    """Every figure of a sweep analysis by file stem: the metric against B, the collapse in g,
    B_opt against each fitted variable and the g each slice's optimum implies."""
    figures = {"accuracy_vs_b": accuracy_vs_batch_figure(analysis.b_opts, analysis.metric),
               "collapse_in_g": collapse_figure(analysis.collapse)}
    figures.update({f"b_opt_vs_{name}": scaling_figure(fit)
                    for name, fit in analysis.fits.items()})
    if analysis.g_opt is not None:
        figures.update({f"g_opt_vs_{name}": g_opt_figure(analysis.b_opts, analysis.g_opt, name)
                        for name in analysis.fits})
    return figures
