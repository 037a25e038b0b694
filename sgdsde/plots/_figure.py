"""Figures outside pyplot's state, and the one way a figure is written to disk."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._io import atomic_write

Record = Mapping[str, Any]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             squeeze: bool = True, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure and its axes grid like ``pyplot.subplots`` (constrained layout), but a plain
    :class:`~matplotlib.figure.Figure` outside pyplot's state."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)


def mean_band(ax: Any, x: Any, entry: Mapping[str, Any], label: str, color: str,
              style: str = "-") -> None:
    """Plot an estimate's mean (``entry["mean"]``) against `x` with a ±stderr band."""
    mean, stderr = as_array(entry["mean"]), as_array(entry["stderr"])
    ax.plot(x, mean, style, marker="o", markersize=3, color=color, label=label)
    ax.fill_between(x, mean - stderr, mean + stderr, color=color, alpha=0.25, linewidth=0)


def as_array(value: Any) -> np.ndarray:
    """A float array with ``None`` (JSON null) as NaN."""
    return np.array(value if value is not None else np.nan, dtype=float)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` as PNG to `path` atomically (:func:`sgdsde._io.atomic_write`)."""

    def write(stream: io.BufferedIOBase) -> None:
        fig.savefig(stream, format="png", dpi=dpi)

    return atomic_write(path, write)
