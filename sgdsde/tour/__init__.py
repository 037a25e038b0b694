"""The tour: every claim of the package checked on built-in defaults, one report
(:func:`run_tour`, :meth:`Tour.save`), built from a claims framework (:class:`Claim`, fixed
tests at family-wise :data:`ALPHA`) and one module per part."""

from ._adaptive import AdaptiveTourSettings as AdaptiveTourSettings
from ._adaptive import adaptive_claims as adaptive_claims
from ._adaptive import run_adaptive_section as run_adaptive_section
from ._claims import ALPHA as ALPHA
from ._claims import Claim as Claim
from ._claims import bonferroni_z as bonferroni_z
from ._claims import one_sided_z as one_sided_z
from ._evidence import EvidenceTourSettings as EvidenceTourSettings
from ._evidence import flatness_claim as flatness_claim
from ._evidence import label_claims as label_claims
from ._learned import LearnedTourSettings as LearnedTourSettings
from ._learned import learned_claims as learned_claims
from ._quadratic import QuadraticTourResult as QuadraticTourResult
from ._quadratic import QuadraticTourSettings as QuadraticTourSettings
from ._quadratic import covariance_difference_z as covariance_difference_z
from ._quadratic import entry_z_scores as entry_z_scores
from ._quadratic import quadratic_claims as quadratic_claims
from ._quadratic import run_quadratic_section as run_quadratic_section
from ._quadratic import trace_gap as trace_gap
from ._quadratic import weak_error_expansion as weak_error_expansion
from ._report import build_report as build_report
from ._report import environment as environment
from ._run import PARTS as PARTS
from ._run import PartResult as PartResult
from ._run import Tour as Tour
from ._run import check_parts as check_parts
from ._run import run_part as run_part
from ._run import run_tour as run_tour
from ._scaling import SLOPE_MARGIN as SLOPE_MARGIN
from ._scaling import ScalingTourSettings as ScalingTourSettings
from ._scaling import law_claim as law_claim
from ._scaling import scaling_claims as scaling_claims
from ._scaling import sweep_text as sweep_text
from ._scaling import tour_sweep as tour_sweep
from ._toolkit import ToolkitTourSettings as ToolkitTourSettings
from ._toolkit import toolkit_claims as toolkit_claims

__all__ = [
    "ALPHA", "PARTS", "SLOPE_MARGIN", "AdaptiveTourSettings", "Claim", "EvidenceTourSettings",
    "LearnedTourSettings", "adaptive_claims", "run_adaptive_section",
    "PartResult", "QuadraticTourResult", "QuadraticTourSettings", "ScalingTourSettings", "Tour",
    "bonferroni_z", "build_report", "check_parts", "covariance_difference_z", "entry_z_scores",
    "environment", "flatness_claim", "label_claims", "law_claim", "learned_claims", "one_sided_z",
    "quadratic_claims", "run_part", "run_quadratic_section", "run_tour", "scaling_claims",
    "sweep_text", "tour_sweep", "trace_gap", "weak_error_expansion",
    "ToolkitTourSettings", "toolkit_claims",
]
