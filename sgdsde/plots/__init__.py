"""Figures: plain matplotlib :class:`~matplotlib.figure.Figure` objects drawn from the records
the library returns (no computation inside, no pyplot state), one module per topic."""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._adaptive": ["family_figure", "momentum_figure", "rule_figure"],
    "._evidence": ["evidence_figure", "flatness_figure", "random_label_figure"],
    "._figure": ["save_figure", "subplots"],
    "._learned": ["learned_trajectories_figure"],
    "._quadratic": [
        "covariance_figure", "gap_scaling_figure", "quadratic_figures", "weak_gap_figure"
    ],
    "._scaling": [
        "accuracy_vs_batch_figure", "collapse_figure", "g_opt_figure", "scaling_figure",
        "scaling_figures"
    ],
    "._toolkit": ["noise_scale_figure", "nqm_figure", "pareto_figure", "svag_figure"],
})
