"""Figures of the batch-size toolkit (docs/toolkit.md): the gradient noise scale along
training, steps against examples to a target (the S–E Pareto curves), the noisy quadratic model
and the SVAG validity test — each from the JSON-ready record its library function returns."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ._figure import Record, as_array, subplots


def noise_scale_figure(record: Record, *, title: str | None = None) -> Figure:
    """B_simple (exact, and the two-batch estimate ± stderr) and B_noise (exact) against SGD
    steps, one line per path, from :func:`sgdsde.studies.noise_scale_along_training`."""
    fig, (ax_scale, ax_loss) = subplots(1, 2, figsize=(11.0, 4.0))
    steps = as_array(record["steps"])
    for path, estimates in enumerate(record["estimate"]):
        value = as_array([e["b_simple"]["value"] for e in estimates])
        error = as_array([e["b_simple"]["stderr"] for e in estimates])
        label = "B_simple, two-batch estimate ± se" if path == 0 else None
        ax_scale.errorbar(steps, value, yerr=error, fmt="o", color="C0", markersize=3,
                          alpha=0.7, label=label)
        if "exact" in record:
            exact = record["exact"][path]
            ax_scale.plot(steps, as_array([e["b_simple"] for e in exact]), "-", color="C0",
                          label="B_simple, exact" if path == 0 else None)
            ax_scale.plot(steps, as_array([e["b_noise"] for e in exact]), "--", color="C3",
                          label="B_noise, exact" if path == 0 else None)
        ax_loss.plot(steps, as_array(record["train_loss"][path]), color="C2")
    ax_scale.set_yscale("log")
    ax_scale.set_xlabel("SGD steps k")
    ax_scale.set_ylabel("batch size")
    ax_scale.legend(fontsize=7)
    ax_loss.set_xlabel("SGD steps k")
    ax_loss.set_ylabel("training loss L(θ_k)")
    fig.suptitle(title or (f"Gradient noise scale along SGD: ε={record['lr']:g}, "
                           f"B={record['batch_size']}, N={record['n_train']}"), fontsize=10)
    return fig


def pareto_figure(curves: Mapping[str, Record], *, title: str = "Steps and examples to target"
                  ) -> Figure:
    """Per curve (label → ``StepsToTarget.to_dict()``): steps S against examples E = S·B to the
    target, with the fitted S = S_min(1 + B_crit/B) and B_crit marked (left), and S against B
    (right); unreached batch sizes are absent, never extrapolated."""
    fig, (ax_pareto, ax_steps) = subplots(1, 2, figsize=(11.0, 4.2))
    for index, (label, record) in enumerate(curves.items()):
        color = f"C{index}"
        sizes = as_array(record["batch_sizes"])
        steps = as_array(record["best_steps"])
        errors = as_array(record["best_stderr"]) if record.get("best_stderr") else None
        ax_pareto.errorbar(steps * sizes, steps,
                           yerr=errors, xerr=None if errors is None else errors * sizes,
                           fmt="o", color=color, markersize=4, label=label)
        ax_steps.errorbar(sizes, steps, yerr=errors, fmt="o", color=color, markersize=4,
                          label=label)
        fit = record.get("fit")
        if fit and np.isfinite(fit["b_crit"] or np.nan):
            grid = np.geomspace(sizes.min(), sizes.max(), 100)
            model = fit["s_min"] * (1.0 + fit["b_crit"] / grid)
            ax_pareto.plot(model * grid, model, "-", color=color, alpha=0.6)
            ax_steps.plot(grid, model, "-", color=color, alpha=0.6,
                          label=f"fit: B_crit = {fit['b_crit']:.3g}")
            ax_steps.axvline(fit["b_crit"], color=color, linestyle=":", alpha=0.7)
            knee = 2.0 * fit["s_min"]
            ax_pareto.plot([knee * fit["b_crit"]], [knee], "*", color=color, markersize=12)
    for ax in (ax_pareto, ax_steps):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("steps to target S")
        ax.legend(fontsize=7)
    ax_pareto.set_xlabel("examples to target E = S·B (★: B = B_crit, S = 2 S_min)")
    ax_steps.set_xlabel("batch size B")
    fig.suptitle(title, fontsize=10)
    return fig


def nqm_figure(checks: Mapping[str, Record], *, title: str = "Noisy quadratic model") -> Figure:
    """Per ensemble check (label → :func:`sgdsde.studies.nqm_ensemble_check` record): SGD's
    mean loss ± stderr against heavy ball's exact expected loss and its SDEs'."""
    fig, axes = subplots(1, len(checks), figsize=(5.5 * len(checks), 4.0), squeeze=False)
    for ax, (label, record) in zip(axes[0], checks.items(), strict=True):
        steps = as_array(record["steps"])
        ax.errorbar(steps, as_array(record["measured_loss"]),
                    yerr=as_array(record["measured_loss_stderr"]), fmt="o", markersize=3,
                    color="C0", label=f"SGD, {record['paths']} paths ± se")
        ax.plot(steps, as_array(record["predicted_loss"]), "-", color="k",
                label="heavy ball, exact E L")
        ax.plot(steps, as_array(record["sme1_loss"]), "--", color="C1", label="SME, exact")
        ax.plot(steps, as_array(record["underdamped_loss"]), ":", color="C2",
                label="underdamped SDE, exact")
        ax.set_yscale("log")
        ax.set_xlabel("steps k")
        ax.set_ylabel("loss")
        ax.set_title(f"{label}: ε={record['lr']:.3g}, m={record['momentum']:g}, "
                     f"B={record['batch_size']}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def svag_figure(record: Record, metric: str = "test_accuracy", *,
                title: str | None = None) -> Figure:
    """The final `metric` against ℓ at each ε (one panel per ε), ± stderr, with the SME's value
    as a band: where the points at ℓ = 1 leave the others the SDE stops describing SGD; from
    :func:`sgdsde.studies.svag_study`."""
    rows = record["rows"]
    fig, axes = subplots(1, len(rows), figsize=(4.0 * len(rows), 3.8), squeeze=False)
    ells = as_array(record["ells"])
    for ax, row in zip(axes[0], rows, strict=True):
        mean = as_array([row["svag"][str(int(e))][metric]["mean"][-1] for e in ells])
        error = as_array([row["svag"][str(int(e))][metric]["stderr"][-1] for e in ells])
        ax.errorbar(ells, mean, yerr=error, fmt="o-", color="C0", label="SVAG(ℓ) ± se")
        if row["sde"] is not None:
            value = row["sde"][metric]["mean"][-1]
            se = row["sde"][metric]["stderr"][-1]
            ax.axhspan(value - se, value + se, color="C1", alpha=0.3, label="SME ± se")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ℓ (ε/ℓ for ℓ× the updates)")
        ax.set_ylabel(f"final {metric.replace('_', ' ')}")
        ax.set_title(f"ε = {row['lr']:g}, B = {record['batch_size']}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"SVAG validity test: N = {record['n_train']}, T = "
                 f"{record['sde_time']:g}", fontsize=10)
    return fig
