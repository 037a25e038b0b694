"""sgdsde: stochastic gradient descent as a stochastic differential equation.

One surface feeds two simulators, discrete heavy-ball SGD (optax) and its SDE models
(Diffrax), which are compared with each other and with the closed forms of
:mod:`sgdsde.theory`; on top of them sit the studies (SGD against its SDE), the batch-size
scaling sweeps, the Bayesian evidence, the figures and the tour. Everything a user needs is
importable from here; the subpackages (``sgdsde.studies``, ``sgdsde.scaling``, ...) re-export
their public names, and module paths below them are private. The maths: ``docs/theory.md``.
"""

from ._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".": ["adaptive_theory", "errors", "theory"],
    "._io": ["write_text=atomic_write_text", "json_safe", "write_json"],
    "._version": ["__version__"],
    ".cache": ["enable_compile_cache"],
    ".compare": ["Estimate"],
    ".config": ["RunConfig", "SDEConfig", "budget_steps"],
    ".evidence": [
        "evidence_sweep", "flatness_study", "laplace_log_evidence", "minimize_cost",
        "random_label_study", "summed_cost"
    ],
    ".learning": ["Dataset", "load_dataset"],
    ".optimizers": ["OPTIMIZERS", "SGD", "Adam", "Optimizer", "RMSprop"],
    ".results": ["EnsembleRun"],
    ".rules": ["RULES", "scaled_run"],
    ".scaling": [
        "analyse_sweep", "compare_schedules", "critical_batch_study", "fit_critical_batch",
        "load_config", "nqm_critical_batch", "prepare_out", "read_results", "run_sweep"
    ],
    ".sde": ["SDESetup", "setup_sde", "simulate_sde"],
    ".sde_models": [
        "SDE_MODELS", "AdamSDE", "FirstOrderSME", "RMSpropSDE", "SDEModel", "SecondOrderSME",
        "UnderdampedSDE"
    ],
    ".sgd": ["simulate_sgd"],
    ".solvers": ["SOLVERS"],
    ".studies": [
        "compare_on_learned", "compare_on_quadratic", "gradient_noise_scale",
        "noise_scale_along_training", "nqm_ensemble_check", "rule_study",
        "stationary_gap_scaling", "svag_study", "two_batch_noise_scale", "weak_gap_scaling"
    ],
    ".surface": ["Surface"],
    ".surfaces": [
        "SVAG", "DoubleWell", "LearnedSurface", "NoisyQuadratic", "Quadratic", "learned_surface"
    ],
    ".tour": ["Tour", "run_tour"],
})
