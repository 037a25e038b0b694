"""Figures of the scaling rules and of the adaptive SDEs, from the records of
:func:`sgdsde.studies.rule_study`, :func:`sgdsde.studies.family_comparison` and
:func:`sgdsde.studies.momentum_comparison`."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from ._figure import Record, as_array, mean_band, subplots

RULE_PANELS = (("train_loss", "train loss"), ("test_accuracy", "test accuracy"))


def rule_figure(studies: Sequence[Record], *, title: str | None = None) -> Figure:
    """One column per study (``RuleStudy.to_dict()``, e.g. the square-root and the linear rule
    of one optimiser), one row per metric: each κ's mean ± stderr against the fraction of the
    run (the same epochs for every κ), the κ = 1 margin band shaded."""
    metrics = [(k, label) for k, label in RULE_PANELS if k in studies[0]["margins"]]
    fig, axes = subplots(len(metrics), len(studies), figsize=(5.5 * len(studies),
                                                               3.4 * len(metrics)),
                         squeeze=False)
    for column, study in enumerate(studies):
        x = as_array(study["progress"])
        reference = study["rows"][0]["metrics"]
        for row, (key, label) in enumerate(metrics):
            ax = axes[row][column]
            margin = study["margins"][key]
            centre = as_array(reference[key]["mean"])
            ax.fill_between(x, centre - margin, centre + margin, color="0.85",
                            label=f"κ=1 ± margin {margin:.3g}")
            for index, entry in enumerate(study["rows"]):
                if "metrics" in entry:
                    mean_band(ax, x, entry["metrics"][key],
                          f"κ={entry['kappa']:g} ({entry['verdict']})", f"C{index}")
            ax.set_xlabel("fraction of the run (same epochs for every κ)")
            ax.set_ylabel(label)
            ax.set_title(f"{study['optimizer']}, {study['rule']} rule", fontsize=9)
            ax.legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def family_figure(record: Record, *, title: str | None = None) -> Figure:
    """Members of a square-root family (``family_comparison``) against their one SDE: train
    loss and test accuracy (when measured) against the SDE time, mean ± stderr."""
    metrics = [(k, label) for k, label in RULE_PANELS if k in record["sde"]]
    fig, axes = subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    times = as_array(record["progress"]) * record["sde_time"]
    for ax, (key, label) in zip(axes[0], metrics, strict=True):
        mean_band(ax, times, record["sde"][key], f"SDE (dt = {record['sde_dt']:.3g})", "k", "--")
        for index, member in enumerate(record["members"]):
            mean_band(ax, times, member["discrete"][key],
                  f"κ={member['kappa']:g}: ε={member['lr']:.3g}, B={member['batch_size']}",
                  f"C{index}")
        ax.set_xlabel("SDE time t = k·ε²")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{record['optimizer']}: discrete members against one SDE",
                 fontsize=10)
    return fig


def momentum_figure(record: Record, *, title: str | None = None) -> Figure:
    """Heavy ball (``momentum_comparison``) against the underdamped SDE and the first-order
    SME: train loss and test accuracy against updates, mean ± stderr."""
    metrics = [(k, label) for k, label in RULE_PANELS if k in record["discrete"]]
    fig, axes = subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    steps = as_array(record["steps"])
    for ax, (key, label) in zip(axes[0], metrics, strict=True):
        mean_band(ax, steps, record["discrete"][key], "heavy ball (optax.sgd)", "C0")
        for index, (model, entry) in enumerate(record["models"].items()):
            mean_band(ax, steps, entry["sde"][key], f"{model} (dt = {entry['dt']:.3g})",
                  f"C{index + 1}", "--")
        ax.set_xlabel("updates k")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"heavy ball m={record['momentum']}: ε={record['lr']:g}, "
                 f"ε/(1−m)={record['effective_lr']:.3g}, B={record['batch_size']}",
                 fontsize=10)
    return fig
