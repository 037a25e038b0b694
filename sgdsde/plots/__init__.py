"""Figures: plain matplotlib :class:`~matplotlib.figure.Figure` objects drawn from the records
the library returns (no computation inside, no pyplot state), one module per topic."""

from ._adaptive import family_figure as family_figure
from ._adaptive import momentum_figure as momentum_figure
from ._adaptive import rule_figure as rule_figure
from ._evidence import evidence_figure as evidence_figure
from ._evidence import flatness_figure as flatness_figure
from ._evidence import random_label_figure as random_label_figure
from ._figure import save_figure as save_figure
from ._figure import subplots as subplots
from ._learned import learned_trajectories_figure as learned_trajectories_figure
from ._quadratic import covariance_figure as covariance_figure
from ._quadratic import gap_scaling_figure as gap_scaling_figure
from ._quadratic import quadratic_figures as quadratic_figures
from ._quadratic import weak_gap_figure as weak_gap_figure
from ._scaling import accuracy_vs_batch_figure as accuracy_vs_batch_figure
from ._scaling import collapse_figure as collapse_figure
from ._scaling import g_opt_figure as g_opt_figure
from ._scaling import scaling_figure as scaling_figure
from ._scaling import scaling_figures as scaling_figures
from ._toolkit import noise_scale_figure as noise_scale_figure
from ._toolkit import nqm_figure as nqm_figure
from ._toolkit import pareto_figure as pareto_figure
from ._toolkit import svag_figure as svag_figure

__all__ = [
    "accuracy_vs_batch_figure", "collapse_figure", "covariance_figure", "evidence_figure",
    "family_figure", "flatness_figure", "g_opt_figure", "gap_scaling_figure",
    "learned_trajectories_figure", "momentum_figure", "quadratic_figures", "rule_figure",
    "random_label_figure", "save_figure", "scaling_figure", "scaling_figures", "subplots",
    "weak_gap_figure",
    "noise_scale_figure", "nqm_figure", "pareto_figure", "svag_figure",
]
