"""Everything a sweep's results say about batch-size scaling (docs/theory.md §4, §7), in one
call: B_opt per slice with calibrated intervals, one g_opt and the goodness of fit of the exact
prediction, the law fits beside their predicted slopes, the collapse in g (and its contrast
against B) tested as an equivalence, and the intervals' measured coverage."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._io import json_safe
from ..errors import IncompatibleChoiceError
from ._b_opt import BOpt, locate_b_opt
from ._collapse import Collapse, collapse_in_g
from ._coverage import Coverage, interval_coverage
from ._laws import GOptFit, ScalingFit, fit_g_opt, fit_scaling
from ._slices import as_columns

#: The scaling variables a fit can use, and the sweep column that varies each.
VARIED = {"lr": "lr", "n_train": "n_train", "inv_one_minus_m": "momentum"}


@dataclasses.dataclass(frozen=True)
class SweepAnalysis:
    """Everything :func:`analyse_sweep` finds in a sweep's results table; `errors` says why a
    part could not be computed (e.g. no slice with a located B_opt)."""

    metric: str
    b_opts: list[BOpt]
    g_opt: GOptFit | None
    fits: dict[str, ScalingFit]
    collapse: Collapse
    collapse_in_b: Collapse
    coverage: Coverage | None
    errors: dict[str, str]

    @property
    def fit_errors(self) -> dict[str, str]:
        """Why a law could not be fitted, per variable the sweep varies."""
        return {k: v for k, v in self.errors.items() if k in VARIED}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: the slices, g_opt with its goodness of fit, the fits (each with
        slope, ci_low, ci_high and predicted_slope), both collapses, the measured coverage and
        the errors."""
        return json_safe({
            "metric": self.metric,
            "b_opt": [b.to_dict() for b in self.b_opts],
            "g_opt": None if self.g_opt is None else self.g_opt.to_dict(),
            "fits": {name: fit.to_dict() for name, fit in self.fits.items()},
            "fit_errors": self.fit_errors,
            "collapse": self.collapse.to_dict(),
            "collapse_in_b": self.collapse_in_b.to_dict(),
            "coverage": None if self.coverage is None else self.coverage.to_dict(),
            "errors": self.errors,
        })


def analyse_sweep(table: Any, metric: str = "final_test_accuracy", *, replicates: int = 200,
                  seed: int = 0, confidence: float = 0.95,
                  alpha: float = 0.05) -> SweepAnalysis:
    """Analyse a sweep's runs (a pyarrow Table or a mapping of columns).

    **Arguments:**

    - `metric`: the column whose optimum over B defines B_opt (minimised when its name
      contains "loss").
    - `replicates`: synthetic sweeps for the g_opt goodness of fit and the coverage, and label
      permutations for the collapse score; `seed` seeds them all.
    - `confidence`: nominal level of the intervals.
    - `alpha`: the one-sided level of the collapse's equivalence bounds (its margin is one
      run's seed-to-seed sd; the contrast against B uses the same margin).

    **Returns:** a :class:`SweepAnalysis`. The collapse curves are one per value of the first
    of ε, N, m that the sweep varies.
    """
    columns = as_columns(table)
    ran = columns.get("optimizer", np.array(["sgd"])).tolist()
    adaptive = sorted({str(name) for name in ran if name is not None} - {"sgd"})
    if adaptive:
        raise IncompatibleChoiceError(
            f"the scaling analysis tests SGD's noise scale g = ε(N/B − 1)/(1 − m); this sweep "
            f"ran {', '.join(adaptive)}: locate its optima with sgdsde.scaling.locate_b_opt",
            names=("optimizer",))
    varied = [c for c in VARIED.values() if len(set(columns[c].tolist())) >= 2]
    by = varied[0] if varied else "lr"
    b_opts = locate_b_opt(table, metric, confidence=confidence)
    errors: dict[str, str] = {}
    g_opt = coverage = None
    try:
        g_opt = fit_g_opt(b_opts, replicates=replicates, seed=seed)
        coverage = interval_coverage(b_opts, replicates=replicates, seed=seed)
    except ValueError as error:
        errors["g_opt"] = str(error)
    fits = {}
    for variable, column in VARIED.items():
        if len(set(columns[column].tolist())) < 2:
            continue
        try:
            fits[variable] = fit_scaling(b_opts, variable,
                                         g_opt=None if g_opt is None else g_opt.g_opt)
        except ValueError as error:
            errors[variable] = str(error)
    options = dict(by=by, alpha=alpha, permutations=replicates, seed=seed)
    collapse = collapse_in_g(table, metric, **options)
    contrast = collapse_in_g(table, metric, x="batch_size", margin=collapse.margin, **options)
    return SweepAnalysis(metric, b_opts, g_opt, fits, collapse, contrast, coverage, errors)
