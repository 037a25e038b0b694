"""The evidence figure (docs/theory.md §5), drawn from JSON-ready records; no computation inside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._figure import subplots


def evidence_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], title: str = "") -> Figure:
    """Three panels against the prior precision λ (log axis), one line per run: train (solid)
    and test (dashed) accuracy; test cross-entropy (nats per example); the log evidence ratio
    against the null model per example (nats; 0 = the null model, dotted). Points whose
    minimiser did not converge are drawn as crosses; estimated log-determinants are noted in
    the legend.

    **Arguments:**

    - `runs`: label → the records of :func:`sgdsde.evidence.evidence_sweep` (``None`` = NaN).
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    fig, axes = subplots(1, 3, figsize=(15, 4.2))
    for index, (label, records) in enumerate(runs.items()):
        color = f"C{index}"

        def column(key: str, records=records) -> np.ndarray:
            return np.array([np.nan if r[key] is None else r[key] for r in records], float)

        lams = column("lambda")
        estimate = any(r.get("logdet_is_estimate") for r in records)
        name = f"{label} (log-det estimated)" if estimate else label
        axes[0].plot(lams, column("train_accuracy"), "-o", color=color, label=f"{name}: train")
        axes[0].plot(lams, column("test_accuracy"), "--s", color=color, label=f"{name}: test")
        axes[1].plot(lams, column("test_cross_entropy"), "-o", color=color, label=name)
        axes[2].plot(lams, column("log_evidence_ratio_per_example"), "-o", color=color,
                     label=name)
        failed = np.array([not r["converged"] for r in records])
        if failed.any():
            axes[2].plot(lams[failed], column("log_evidence_ratio_per_example")[failed], "x",
                         color="k", markersize=10, label="not converged")
    axes[0].axhline(0.5, color="grey", linestyle=":", label="chance (2 classes)")
    axes[2].axhline(0.0, color="grey", linestyle=":", label="null model")
    labels = ("accuracy", "test cross-entropy (nats/example)",
              "log evidence ratio vs null (nats/example)")
    for ax, ylabel in zip(axes, labels, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("prior precision λ (L2 strength)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[1].set_yscale("log")
    if title:
        fig.suptitle(title)
    return fig


def flatness_figure(summaries: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """Three panels against the noise scale g (log axis), mean ± standard error over seeds:
    test accuracy of the SGD end points, the Hessian trace of the summed cost there, and the
    local Laplace log evidence ratio per example (where the Hessian is positive definite).

    **Arguments:**

    - `summaries`: :meth:`sgdsde.evidence.FlatnessPoint.summary` records, one per batch size.
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    fig, axes = subplots(1, 3, figsize=(15, 4.2))
    g = np.array([s["noise_scale"] for s in summaries], float)
    keys = ("test_accuracy", "hessian_trace", "log_evidence_ratio_per_example")
    labels = ("test accuracy", "tr ∇∇C at the end point",
              "local log evidence ratio (nats/example)")
    for ax, key, label in zip(axes, keys, labels, strict=True):
        mean = np.array([np.nan if s[key]["mean"] is None else s[key]["mean"] for s in summaries])
        se = np.array([np.nan if s[key]["stderr"] is None else s[key]["stderr"]
                       for s in summaries])
        ax.errorbar(g, mean, yerr=se, fmt="-o", capsize=3)
        ax.set_xscale("log")
        ax.set_xlabel("noise scale g = ε(N/B − 1)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def random_label_figure(summary: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """The random-label evidence against λ (log axis), per example: the mean over label draws
    with its standard error, the closed-form E[R] of
    :func:`sgdsde.evidence.random_label_prediction` with a band of ±sd[R] (the spread of single
    draws), and the null model at 0; a second panel shows the fraction of single draws whose
    ratio is above 0.

    **Arguments:**

    - `summary`: output of :func:`sgdsde.evidence.random_label_study`.
    - `title`: the figure's title.

    **Returns:** the figure.
    """
    def column(key: str) -> np.ndarray:
        return np.array([r[key] for r in summary], float)

    n = summary[0]["n_examples"]
    lams = column("lambda")
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    axes[0].errorbar(lams, column("mean") / n, yerr=column("stderr") / n, fmt="o", capsize=3,
                     label=f"measured: mean of {summary[0]['draws']} draws ± se")
    predicted, spread = column("predicted_mean") / n, column("predicted_sd") / n
    axes[0].plot(lams, predicted, "-", color="C1", label="closed form E[R] (valid at large λ)")
    axes[0].fill_between(lams, predicted - spread, predicted + spread, color="C1", alpha=0.2,
                         label="E[R] ± sd[R] (single draws)")
    axes[0].axhline(0.0, color="grey", linestyle=":", label="null model")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_ylabel("log evidence ratio vs null (nats/example)")
    axes[1].plot(lams, column("positive_fraction"), "-o")
    axes[1].axhline(0.5, color="grey", linestyle=":", label="coin flip")
    axes[1].set_ylabel("fraction of draws with ratio > 0")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("prior precision λ (L2 strength)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
