"""Figures of SGD against its SDE on a learned surface, from ``LearnedComparison.to_dict()``."""

from __future__ import annotations

from matplotlib.figure import Figure

from ._figure import Record, as_array, mean_band, subplots

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
      batch_size, n_train, paths, sde_model, sde_time_per_step; NaN may be ``None``),
      optionally with ``dataset`` (``Dataset.describe()``) for a chance line at 1/n_classes.
    - `title`: a line above the panels (default: the run's settings).

    **Returns:** the figure.
    """
    fig, axes = subplots(1, len(LEARNED_PANELS), figsize=(15.0, 4.0), squeeze=False)
    steps = as_array(record["steps"])
    tau = record["sde_time_per_step"]
    series = (("SGD", "sgd", "C0", "-"), (f"SDE ({record['sde_model']})", "sde", "C1", "--"))
    n_classes = (record.get("dataset") or {}).get("n_classes")
    for ax, (key, label) in zip(axes[0], LEARNED_PANELS, strict=True):
        for name, side, color, style in series:
            mean_band(ax, steps, record[side][key], f"{name} ± stderr", color, style)
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
