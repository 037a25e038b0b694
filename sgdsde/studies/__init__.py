"""SGD against its SDE models, with error bars: on a quadratic against the closed forms, the
gap's scaling with ε, and on learned surfaces (docs/theory.md §2–3); RMSprop and Adam against
their SDEs, batch-size scaling rules as equivalences, heavy ball on learned surfaces
(docs/adaptive.md)."""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._adaptive": [
        "AdaptiveWeakError", "adaptive_weak_error", "family_comparison", "weak_statistics"
    ],
    "._dt": ["dt_halving"],
    "._gap_scaling": [
        "GapScaling", "fit_power_law", "stationary_gap_scaling", "weak_gap_scaling"
    ],
    "._learned": [
        "FINAL_METRICS", "LearnedComparison", "compare_on_learned", "dt_convergence",
        "fixed_noise_comparison", "gap_z", "metric_statistics"
    ],
    "._momentum": ["MOMENTUM_MODELS", "momentum_comparison"],
    "._noise_scale": [
        "NoiseScale", "NoiseScaleEstimate", "check_batch_pair", "exact_noise_source",
        "gradient_noise_scale", "noise_scale_along_training", "two_batch_noise_scale"
    ],
    "._nqm": ["nqm_description", "nqm_ensemble_check", "nqm_expected_losses"],
    "._quadratic": [
        "QuadraticComparison", "auto_steps", "check_stable", "compare_on_quadratic",
        "steps_to_stationarity"
    ],
    "._rule": [
        "RULE_BASES", "VERDICTS", "RuleStudy", "check_equal_epochs", "outside_margin",
        "rule_base_run", "rule_study", "rule_summary", "tost", "trajectory_metrics"
    ],
    "._svag": ["check_ells", "svag_study"],
})
