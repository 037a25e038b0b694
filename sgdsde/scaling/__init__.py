"""Batch-size scaling (docs/theory.md §4): resumable sweeps of SGD runs on learned surfaces
(TOML configs, vmapped and sharded batches, an atomic Parquet store), their analysis (B_opt per
slice, the scaling fits, the collapse in the noise scale g) and step schedules (decay ε ≡ grow B).
Sweeps run in this process or as tasks on a Dask cluster (executors).
"""

from . import _store as store
from ._analysis import VARIED as VARIED
from ._analysis import SweepAnalysis as SweepAnalysis
from ._analysis import analyse_sweep as analyse_sweep
from ._b_opt import STATUSES as STATUSES
from ._b_opt import BOpt as BOpt
from ._b_opt import locate_b_opt as locate_b_opt
from ._collapse import Collapse as Collapse
from ._collapse import GCurve as GCurve
from ._collapse import collapse_in_g as collapse_in_g
from ._config import SweepConfig as SweepConfig
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._config import parse_text as parse_text
from ._coverage import Coverage as Coverage
from ._coverage import interval_coverage as interval_coverage
from ._critical_batch import CriticalBatchFit as CriticalBatchFit
from ._critical_batch import StepsToTarget as StepsToTarget
from ._critical_batch import check_batch_sizes as check_batch_sizes
from ._critical_batch import check_lrs as check_lrs
from ._critical_batch import critical_batch_study as critical_batch_study
from ._critical_batch import fit_critical_batch as fit_critical_batch
from ._critical_batch import nqm_critical_batch as nqm_critical_batch
from ._critical_batch import nqm_lr_grid as nqm_lr_grid
from ._dask import DaskExecutor as DaskExecutor
from ._dask import dask_executor as dask_executor
from ._executors import Executor as Executor
from ._executors import InProcessExecutor as InProcessExecutor
from ._laws import VARIABLES as VARIABLES
from ._laws import GOptFit as GOptFit
from ._laws import ScalingFit as ScalingFit
from ._laws import fit_g_opt as fit_g_opt
from ._laws import fit_scaling as fit_scaling
from ._laws import predicted_log_b as predicted_log_b
from ._lock import sweep_lock as sweep_lock
from ._plan import RunSpec as RunSpec
from ._plan import batch_id as batch_id
from ._plan import expand as expand
from ._plan import plan_batches as plan_batches
from ._schedules import Phase as Phase
from ._schedules import ScheduleResult as ScheduleResult
from ._schedules import compare_schedules as compare_schedules
from ._schedules import run_schedule as run_schedule
from ._schedules import step_schedules as step_schedules
from ._slices import as_columns as as_columns
from ._store import read_results as read_results
from ._sweep import CONFIG_NAME as CONFIG_NAME
from ._sweep import SweepSummary as SweepSummary
from ._sweep import prepare_out as prepare_out
from ._sweep import run_sweep as run_sweep

__all__ = [
    "CONFIG_NAME", "STATUSES", "VARIABLES", "VARIED", "BOpt", "Collapse", "Coverage", "GCurve",
    "GOptFit", "Phase", "RunSpec", "ScalingFit", "ScheduleResult", "SweepAnalysis",
    "SweepConfig", "SweepSummary", "analyse_sweep", "as_columns", "batch_id", "collapse_in_g",
    "compare_schedules", "expand", "fit_g_opt", "fit_scaling", "interval_coverage",
    "load_config", "locate_b_opt", "parse_config", "parse_text", "plan_batches",
    "predicted_log_b", "prepare_out", "read_results", "run_schedule", "run_sweep",
    "step_schedules", "store",
    "DaskExecutor", "Executor", "InProcessExecutor", "dask_executor", "sweep_lock",
    "CriticalBatchFit", "StepsToTarget", "check_batch_sizes", "check_lrs",
    "critical_batch_study", "fit_critical_batch", "nqm_critical_batch", "nqm_lr_grid",
]
