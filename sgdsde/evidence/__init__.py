"""Bayesian model comparison (docs/theory.md §5): the Laplace evidence and its Occam factor,
the evidence of random against informative labels, and the curvature of the points SGD finds at
different noise scales."""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._flatness": ["FlatnessPoint", "flatness_study", "trace_drop"],
    "._laplace": [
        "HESSIAN_METHODS", "MAX_EXACT_DIM", "LaplaceEvidence", "LogDet", "Minimum",
        "SummedCost", "check_hessian_method", "check_prior_precision", "classifier_metrics",
        "curvature", "evidence_at", "evidence_sweep", "exact_hessian", "exact_logdet",
        "hessian_logdet", "hessian_vector_product", "lanczos_logdet", "laplace_log_evidence",
        "minimize_cost", "require_x64", "summed_cost"
    ],
    "._random_labels": ["random_label_prediction", "random_label_study"],
})
