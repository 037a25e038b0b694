"""Batch-size scaling (docs/theory.md §4): resumable sweeps of SGD runs on learned surfaces
(TOML configs, vmapped and sharded batches, an atomic Parquet store), their analysis (B_opt per
slice, the scaling fits, the collapse in the noise scale g) and step schedules (decay ε ≡ grow B).
Sweeps run in this process or as tasks on a Dask cluster (executors).
"""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".": ["store=_store"],
    "._analysis": ["VARIED", "SweepAnalysis", "analyse_sweep"],
    "._b_opt": ["STATUSES", "BOpt", "locate_b_opt"],
    "._collapse": ["Collapse", "GCurve", "collapse_in_g"],
    "._config": ["SweepConfig", "load_config", "parse_config", "parse_text"],
    "._coverage": ["Coverage", "interval_coverage"],
    "._critical_batch": [
        "CriticalBatchFit", "StepsToTarget", "check_batch_sizes", "check_lrs",
        "critical_batch_study", "fit_critical_batch", "nqm_critical_batch", "nqm_lr_grid"
    ],
    "._dask": ["DaskExecutor", "dask_executor"],
    "._executors": ["Executor", "InProcessExecutor"],
    "._laws": [
        "VARIABLES", "GOptFit", "ScalingFit", "fit_g_opt", "fit_scaling", "predicted_log_b"
    ],
    "._lock": ["sweep_lock"],
    "._plan": ["RunSpec", "batch_id", "expand", "plan_batches"],
    "._schedules": [
        "Phase", "ScheduleResult", "compare_schedules", "run_schedule", "step_schedules"
    ],
    "._slices": ["as_columns"],
    "._store": ["read_results"],
    "._sweep": ["CONFIG_NAME", "SweepSummary", "prepare_out", "run_sweep"],
})
