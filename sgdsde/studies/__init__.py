"""SGD against its SDE models, with error bars: on a quadratic against the closed forms, the
gap's scaling with ε, and on learned surfaces (docs/theory.md §2–3); RMSprop and Adam against
their SDEs, batch-size scaling rules as equivalences, heavy ball on learned surfaces
(docs/adaptive.md)."""

from ._adaptive import AdaptiveWeakError as AdaptiveWeakError
from ._adaptive import adaptive_weak_error as adaptive_weak_error
from ._adaptive import family_comparison as family_comparison
from ._adaptive import weak_statistics as weak_statistics
from ._dt import dt_halving as dt_halving
from ._gap_scaling import GapScaling as GapScaling
from ._gap_scaling import fit_power_law as fit_power_law
from ._gap_scaling import stationary_gap_scaling as stationary_gap_scaling
from ._gap_scaling import weak_gap_scaling as weak_gap_scaling
from ._learned import FINAL_METRICS as FINAL_METRICS
from ._learned import LearnedComparison as LearnedComparison
from ._learned import compare_on_learned as compare_on_learned
from ._learned import dt_convergence as dt_convergence
from ._learned import fixed_noise_comparison as fixed_noise_comparison
from ._learned import gap_z as gap_z
from ._momentum import MOMENTUM_MODELS as MOMENTUM_MODELS
from ._momentum import momentum_comparison as momentum_comparison
from ._noise_scale import NoiseScale as NoiseScale
from ._noise_scale import NoiseScaleEstimate as NoiseScaleEstimate
from ._noise_scale import check_batch_pair as check_batch_pair
from ._noise_scale import exact_noise_source as exact_noise_source
from ._noise_scale import gradient_noise_scale as gradient_noise_scale
from ._noise_scale import noise_scale_along_training as noise_scale_along_training
from ._noise_scale import two_batch_noise_scale as two_batch_noise_scale
from ._nqm import nqm_description as nqm_description
from ._nqm import nqm_ensemble_check as nqm_ensemble_check
from ._nqm import nqm_expected_losses as nqm_expected_losses
from ._quadratic import QuadraticComparison as QuadraticComparison
from ._quadratic import auto_steps as auto_steps
from ._quadratic import check_stable as check_stable
from ._quadratic import compare_on_quadratic as compare_on_quadratic
from ._quadratic import steps_to_stationarity as steps_to_stationarity
from ._rule import RULE_BASES as RULE_BASES
from ._rule import VERDICTS as VERDICTS
from ._rule import RuleStudy as RuleStudy
from ._rule import check_equal_epochs as check_equal_epochs
from ._rule import outside_margin as outside_margin
from ._rule import rule_base_run as rule_base_run
from ._rule import rule_study as rule_study
from ._rule import rule_summary as rule_summary
from ._rule import tost as tost
from ._rule import trajectory_metrics as trajectory_metrics
from ._svag import check_ells as check_ells
from ._svag import svag_study as svag_study

__all__ = [
    "FINAL_METRICS", "MOMENTUM_MODELS", "RULE_BASES", "VERDICTS", "AdaptiveWeakError",
    "GapScaling", "LearnedComparison", "QuadraticComparison", "RuleStudy",
    "adaptive_weak_error", "auto_steps", "check_equal_epochs", "check_stable",
    "compare_on_learned", "compare_on_quadratic", "dt_convergence", "dt_halving",
    "family_comparison", "fit_power_law", "fixed_noise_comparison", "gap_z",
    "momentum_comparison", "outside_margin", "rule_base_run", "rule_study", "rule_summary",
    "stationary_gap_scaling", "steps_to_stationarity", "tost", "trajectory_metrics",
    "weak_gap_scaling", "weak_statistics",
    "NoiseScale", "NoiseScaleEstimate", "check_batch_pair", "check_ells", "exact_noise_source",
    "gradient_noise_scale", "noise_scale_along_training", "nqm_description",
    "nqm_ensemble_check", "nqm_expected_losses", "svag_study", "two_batch_noise_scale",
]
