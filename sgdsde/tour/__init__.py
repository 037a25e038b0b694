"""The tour: every claim of the package checked on built-in defaults, one report
(:func:`run_tour`, :meth:`Tour.save`), built from a claims framework (:class:`Claim`, fixed
tests at family-wise :data:`ALPHA`) and one module per part."""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._adaptive": ["AdaptiveTourSettings", "adaptive_claims", "run_adaptive_section"],
    "._claims": ["ALPHA", "Claim", "bonferroni_z", "one_sided_z"],
    "._evidence": ["EvidenceTourSettings", "flatness_claim", "label_claims"],
    "._learned": ["LearnedTourSettings", "learned_claims"],
    "._quadratic": [
        "QuadraticTourResult", "QuadraticTourSettings", "covariance_difference_z",
        "entry_z_scores", "quadratic_claims", "run_quadratic_section", "trace_gap",
        "weak_error_expansion"
    ],
    "._report": ["build_report", "environment"],
    "._parts": ["PARTS"],
    "._run": ["PartResult", "Tour", "check_parts", "run_part", "run_tour"],
    "._scaling": [
        "SLOPE_MARGIN", "ScalingTourSettings", "law_claim", "scaling_claims", "sweep_text",
        "tour_sweep"
    ],
    "._toolkit": ["ToolkitTourSettings", "toolkit_claims"],
})
