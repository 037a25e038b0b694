"""Bayesian model comparison (docs/theory.md §5): the Laplace evidence and its Occam factor,
the evidence of random against informative labels, and the curvature of the points SGD finds at
different noise scales."""

from ._flatness import FlatnessPoint as FlatnessPoint
from ._flatness import flatness_study as flatness_study
from ._flatness import trace_drop as trace_drop
from ._laplace import HESSIAN_METHODS as HESSIAN_METHODS
from ._laplace import MAX_EXACT_DIM as MAX_EXACT_DIM
from ._laplace import LaplaceEvidence as LaplaceEvidence
from ._laplace import LogDet as LogDet
from ._laplace import Minimum as Minimum
from ._laplace import SummedCost as SummedCost
from ._laplace import check_hessian_method as check_hessian_method
from ._laplace import check_prior_precision as check_prior_precision
from ._laplace import classifier_metrics as classifier_metrics
from ._laplace import curvature as curvature
from ._laplace import evidence_at as evidence_at
from ._laplace import evidence_sweep as evidence_sweep
from ._laplace import exact_hessian as exact_hessian
from ._laplace import exact_logdet as exact_logdet
from ._laplace import hessian_logdet as hessian_logdet
from ._laplace import hessian_vector_product as hessian_vector_product
from ._laplace import lanczos_logdet as lanczos_logdet
from ._laplace import laplace_log_evidence as laplace_log_evidence
from ._laplace import minimize_cost as minimize_cost
from ._laplace import require_x64 as require_x64
from ._laplace import summed_cost as summed_cost
from ._random_labels import random_label_prediction as random_label_prediction
from ._random_labels import random_label_study as random_label_study

__all__ = [
    "HESSIAN_METHODS", "MAX_EXACT_DIM", "FlatnessPoint", "LaplaceEvidence", "LogDet", "Minimum",
    "SummedCost", "check_hessian_method", "check_prior_precision", "classifier_metrics",
    "curvature", "evidence_at", "evidence_sweep", "exact_hessian", "exact_logdet",
    "flatness_study", "hessian_logdet", "hessian_vector_product", "lanczos_logdet",
    "laplace_log_evidence", "minimize_cost", "random_label_prediction", "random_label_study",
    "require_x64", "summed_cost", "trace_drop",
]
