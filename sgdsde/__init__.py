"""sgdsde: stochastic gradient descent as a stochastic differential equation.

One surface feeds two simulators, discrete heavy-ball SGD (optax) and its SDE models
(Diffrax), which are compared with each other and with the closed forms of
:mod:`sgdsde.theory`; on top of them sit the studies (SGD against its SDE), the batch-size
scaling sweeps, the Bayesian evidence, the figures and the tour. Everything a user needs is
importable from here; the subpackages (``sgdsde.studies``, ``sgdsde.scaling``, ...) re-export
their public names, and module paths below them are private. The maths: ``docs/theory.md``.
"""

from . import adaptive_theory as adaptive_theory
from . import errors as errors
from . import theory as theory
from ._io import atomic_write_text as write_text
from ._io import json_safe as json_safe
from ._io import write_json as write_json
from ._version import __version__ as __version__
from .cache import enable_compile_cache as enable_compile_cache
from .compare import Estimate as Estimate
from .config import RunConfig as RunConfig
from .config import SDEConfig as SDEConfig
from .config import budget_steps as budget_steps
from .evidence import evidence_sweep as evidence_sweep
from .evidence import flatness_study as flatness_study
from .evidence import laplace_log_evidence as laplace_log_evidence
from .evidence import minimize_cost as minimize_cost
from .evidence import random_label_study as random_label_study
from .evidence import summed_cost as summed_cost
from .learning import Dataset as Dataset
from .learning import load_dataset as load_dataset
from .optimizers import OPTIMIZERS as OPTIMIZERS
from .optimizers import SGD as SGD
from .optimizers import Adam as Adam
from .optimizers import Optimizer as Optimizer
from .optimizers import RMSprop as RMSprop
from .results import EnsembleRun as EnsembleRun
from .rules import RULES as RULES
from .rules import scaled_run as scaled_run
from .scaling import analyse_sweep as analyse_sweep
from .scaling import compare_schedules as compare_schedules
from .scaling import critical_batch_study as critical_batch_study
from .scaling import fit_critical_batch as fit_critical_batch
from .scaling import load_config as load_config
from .scaling import nqm_critical_batch as nqm_critical_batch
from .scaling import prepare_out as prepare_out
from .scaling import read_results as read_results
from .scaling import run_sweep as run_sweep
from .sde import SDESetup as SDESetup
from .sde import setup_sde as setup_sde
from .sde import simulate_sde as simulate_sde
from .sde_models import SDE_MODELS as SDE_MODELS
from .sde_models import AdamSDE as AdamSDE
from .sde_models import FirstOrderSME as FirstOrderSME
from .sde_models import RMSpropSDE as RMSpropSDE
from .sde_models import SDEModel as SDEModel
from .sde_models import SecondOrderSME as SecondOrderSME
from .sde_models import UnderdampedSDE as UnderdampedSDE
from .sgd import simulate_sgd as simulate_sgd
from .solvers import SOLVERS as SOLVERS
from .studies import compare_on_learned as compare_on_learned
from .studies import compare_on_quadratic as compare_on_quadratic
from .studies import gradient_noise_scale as gradient_noise_scale
from .studies import noise_scale_along_training as noise_scale_along_training
from .studies import nqm_ensemble_check as nqm_ensemble_check
from .studies import rule_study as rule_study
from .studies import stationary_gap_scaling as stationary_gap_scaling
from .studies import svag_study as svag_study
from .studies import two_batch_noise_scale as two_batch_noise_scale
from .studies import weak_gap_scaling as weak_gap_scaling
from .surface import Surface as Surface
from .surfaces import SVAG as SVAG
from .surfaces import DoubleWell as DoubleWell
from .surfaces import LearnedSurface as LearnedSurface
from .surfaces import NoisyQuadratic as NoisyQuadratic
from .surfaces import Quadratic as Quadratic
from .surfaces import learned_surface as learned_surface
from .tour import Tour as Tour
from .tour import run_tour as run_tour

__all__ = [
    "OPTIMIZERS", "RULES", "SGD", "Adam", "AdamSDE", "Optimizer", "RMSprop", "RMSpropSDE",
    "adaptive_theory", "rule_study", "scaled_run",
    "SDE_MODELS", "SOLVERS", "Dataset", "DoubleWell", "EnsembleRun", "Estimate",
    "FirstOrderSME", "LearnedSurface", "Quadratic", "RunConfig", "SDEConfig", "SDEModel",
    "SDESetup", "SecondOrderSME", "Surface", "Tour", "UnderdampedSDE", "__version__",
    "analyse_sweep", "budget_steps", "compare_on_learned", "compare_on_quadratic",
    "compare_schedules", "errors", "evidence_sweep", "flatness_study", "json_safe",
    "laplace_log_evidence",
    "learned_surface", "load_config", "load_dataset", "minimize_cost", "prepare_out",
    "random_label_study", "read_results", "run_sweep", "run_tour", "setup_sde", "simulate_sde",
    "simulate_sgd", "stationary_gap_scaling", "summed_cost", "theory", "weak_gap_scaling",
    "write_json", "write_text",
    "enable_compile_cache",
    "NoisyQuadratic", "SVAG", "critical_batch_study", "fit_critical_batch",
    "gradient_noise_scale", "noise_scale_along_training", "nqm_critical_batch",
    "nqm_ensemble_check", "svag_study", "two_batch_noise_scale",
]
