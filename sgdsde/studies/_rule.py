"""Batch-size scaling rules tested as equivalences (docs/adaptive.md §5).

For each κ the run is rescaled by a rule (:func:`sgdsde.rules.scaled_run`: batch κB, the same
epochs) and its ensemble (independent minibatch streams from the same initialisation, seed
``seed + index``) is compared with κ = 1 at the same fractions of the run, i.e. the same
epochs. At every checkpoint and metric the difference d = mean_κ − mean_1 has the standard error
of two independent means.

**Equivalence** is tested as an equivalence, by two one-sided tests (TOST) against a margin δ:
κ is *equivalent* when the (1 − 2α) interval d ± z_{1−α}·se lies inside (−δ, δ) at every
checkpoint and metric (an intersection–union test: no multiplicity correction needed). κ is
*different* when at some checkpoint the Bonferroni-corrected interval (over all checkpoints and
metrics) lies entirely outside [−δ, δ]; otherwise *inconclusive*. The margin of a metric is
`margin_fraction` of the κ = 1 run's progress on it, |mean_1(end) − mean_1(start)|: a rule
that keeps every checkpoint within that fraction of the training progress keeps the trajectory.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from scipy import stats

from .._validation import check_choice, check_int, check_number
from ..compare import Estimate, difference_estimate, mean_estimate
from ..config import RunConfig, checkpoint_steps
from ..errors import ParameterRangeError
from ..optimizers import make_optimizer
from ..rules import RULES, check_kappa, scaled_run
from ..sgd import simulate_sgd
from ..surfaces import LearnedSurface, Surface

#: Verdicts of one κ against κ = 1.
VERDICTS = ("reference", "equivalent", "different", "inconclusive", "diverged")

#: Base hyper-parameters of the rule studies per optimiser: (learning rate, optimiser
#: hyper-parameters). The decays are close to 1 so that the square-root rule stays valid up to
#: κ = 100 (β' = 1 − κ(1−β) ≥ 0), and RMSprop is bias-corrected (it then has an SDE limit).
RULE_BASES: dict[str, tuple[float, dict[str, Any]]] = {
    "sgd": (0.02, {}),
    "rmsprop": (1e-3, {"decay": 0.999, "bias_correction": True}),
    "adam": (1e-3, {"b1": 0.99, "b2": 0.999}),
}


def trajectory_metrics(surface: Surface, theta: jax.Array) -> dict[str, np.ndarray]:
    """Per (path, checkpoint) metrics of finite paths θ (P, S, d): a learned surface's train/test
    loss and accuracy, any other surface's loss L(θ) (as ``train_loss``)."""
    if isinstance(surface, LearnedSurface):
        return {name: np.asarray(value) for name, value in surface.metrics_of(theta).items()}
    return {"train_loss": np.asarray(jax.vmap(jax.vmap(surface.loss))(theta))}


def tost(difference: np.ndarray, stderr: np.ndarray, margin: float, alpha: float
         ) -> np.ndarray:
    """Two one-sided tests at level α: True where the (1 − 2α) interval of the difference lies
    inside (−margin, margin)."""
    z = stats.norm.isf(alpha)
    return (np.abs(difference) + z * stderr) < margin


def outside_margin(difference: np.ndarray, stderr: np.ndarray, margin: float, alpha: float,
                   count: int) -> np.ndarray:
    """True where the difference exceeds the margin significantly: its two-sided interval,
    Bonferroni-corrected over `count` checks at family-wise α, lies outside [−margin, margin]."""
    z = stats.norm.isf(alpha / (2 * count))
    return (np.abs(difference) - z * stderr) > margin


def check_equal_epochs(steps: int, kappas: Sequence[float], checkpoints: int) -> None:
    """ParameterRangeError unless `steps` is a multiple of κ·(checkpoints − 1) for every κ, so
    that runs with steps/κ updates are all saved at the same epochs."""
    for kappa in kappas:
        quotient = steps / (kappa * (checkpoints - 1))
        if abs(quotient - round(quotient)) > 1e-9:
            raise ParameterRangeError(
                "steps", steps, f"a multiple of kappa*(checkpoints-1) for every kappa "
                f"(kappa={kappa:g}, checkpoints={checkpoints}) so that every run is saved at "
                "the same epochs")


def rule_base_run(optimizer: str, *, n_train: int, batch_size: int, epochs: float,
                  kappas: Sequence[float], checkpoints: int, paths: int, seed: int = 0,
                  lr: float | None = None, **hyperparameters: Any) -> RunConfig:
    """The κ = 1 run of a rule study on N = `n_train` examples drawn with replacement:
    :data:`RULE_BASES` unless `lr` or `hyperparameters` are given, and about `epochs` epochs,
    rounded up to a multiple of κ·(checkpoints − 1) for every (integer) κ."""
    default_lr, default_hyper = RULE_BASES[check_choice("optimizer", optimizer, RULE_BASES)]
    check_int("checkpoints", checkpoints, minimum=2)
    check_number("epochs", epochs, above=0.0)
    unit = math.lcm(*(check_int("kappa", k) * (checkpoints - 1) for k in kappas))
    per_epoch = check_int("n_train", n_train, minimum=2) / check_int("batch_size", batch_size)
    steps = unit * math.ceil(epochs * per_epoch / unit)
    return RunConfig(lr=default_lr if lr is None else lr, batch_size=batch_size,
                     n_train=n_train, replacement=True, steps=steps, paths=paths, seed=seed,
                     optimizer=make_optimizer(optimizer, **{**default_hyper,
                                                            **hyperparameters}))


@dataclasses.dataclass(frozen=True)
class RuleStudy:
    """A scaling rule applied to one base run for several κ, as a JSON-ready record
    (:meth:`to_dict`): per κ the hyper-parameters, the metric trajectories, the differences
    from κ = 1 with their (1 − 2α) intervals, and the verdict."""

    rule: str
    optimizer: str
    margins: dict[str, float]
    margin_fraction: float
    alpha: float
    progress: list[float]
    rows: list[dict[str, Any]]

    def verdict(self, kappa: float) -> str:
        """The verdict of `kappa` (one of :data:`VERDICTS`)."""
        return next(row["verdict"] for row in self.rows if row["kappa"] == kappa)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the study."""
        return dataclasses.asdict(self)


def listed(estimate: Estimate) -> dict[str, list[float]]:
    """An estimate as JSON-ready lists: ``{"mean": [...], "stderr": [...]}``."""
    return {"mean": np.asarray(estimate.value).tolist(),
            "stderr": np.asarray(estimate.stderr).tolist()}


def rule_study(surface: Surface, base: RunConfig, rule: str, kappas: Sequence[float], *,
               checkpoints: int = 5, margin_fraction: float = 0.1, alpha: float = 0.01,
               theta0: jax.Array | None = None) -> RuleStudy:
    """Run `base` scaled by `rule` for every κ in `kappas` (1 first, added if missing) from
    `theta0` (default: the surface's start) and decide each κ against κ = 1 (module
    docstring).

    Everything is checked before anything is compiled: the rule, every κ (κ ≥ 1, κB ≤ N, each
    decay stays ≥ 0 under the square-root rule), and that ``base.steps`` is a multiple of
    κ·(checkpoints − 1) for every κ, so that all runs are saved at the same epochs."""
    check_choice("rule", rule, RULES)
    check_number("margin_fraction", margin_fraction, above=0.0)
    check_number("alpha", alpha, above=0.0, below=0.5)
    values = [1.0] + [check_kappa(k, base.batch_size, base.n_train) for k in kappas
                      if float(k) != 1.0]
    runs = [dataclasses.replace(scaled_run(base, rule, k), seed=base.seed + i)
            for i, k in enumerate(values)]
    check_equal_epochs(base.steps, values, checkpoints)
    intervals = checkpoints - 1
    trajectories, diverged = [], []
    for run in runs:
        ensemble = simulate_sgd(surface, run, theta0=theta0,
                                save_steps=checkpoint_steps(run.steps, checkpoints))
        keep = ~np.asarray(ensemble.diverged)
        trajectories.append(trajectory_metrics(surface, ensemble.theta[keep])
                            if keep.sum() > 1 else None)
        diverged.append(ensemble.diverged_fraction)
    if trajectories[0] is None:
        raise ParameterRangeError("lr", base.lr, "a learning rate at which the kappa=1 run "
                                  "does not diverge")
    reference = trajectories[0]
    margins = {name: margin_fraction * float(abs(v[:, -1].mean() - v[:, 0].mean()))
               for name, v in reference.items()}
    count = len(margins) * checkpoints
    rows = []
    for kappa, run, metrics, fraction in zip(values, runs, trajectories, diverged,
                                             strict=True):
        row: dict[str, Any] = {
            "kappa": kappa, "lr": run.lr, "batch_size": run.batch_size, "steps": run.steps,
            "seed": run.seed, "optimizer": run.optimizer.hyperparameters(),
            "epochs": None if base.n_train is None else [
                s * run.batch_size / base.n_train
                for s in checkpoint_steps(run.steps, checkpoints)],
            "diverged_fraction": fraction,
        }
        if metrics is None:
            rows.append({**row, "verdict": "diverged"})
            continue
        row["metrics"] = {name: listed(mean_estimate(v)) for name, v in metrics.items()}
        equivalent, different = True, False
        row["difference"], row["final_interval"] = {}, {}
        for name, v in metrics.items():
            gap = difference_estimate(v, reference[name], paired=False)
            d, se = np.asarray(gap.value), np.asarray(gap.stderr)
            row["difference"][name] = listed(gap)
            half = stats.norm.isf(alpha) * float(se[-1])
            row["final_interval"][name] = [float(d[-1]) - half, float(d[-1]) + half]
            equivalent &= bool(np.all(tost(d, se, margins[name], alpha)))
            different |= bool(np.any(outside_margin(d, se, margins[name], alpha, count)))
        row["verdict"] = ("reference" if kappa == 1.0 else "diverged" if fraction > 0.5
                          else "equivalent" if equivalent else "different" if different
                          else "inconclusive")
        rows.append(row)
    return RuleStudy(rule=rule, optimizer=base.optimizer.name, margins=margins,
                     margin_fraction=margin_fraction, alpha=alpha,
                     progress=[i / intervals for i in range(checkpoints)], rows=rows)


def rule_summary(study: RuleStudy) -> list[dict[str, Any]]:
    """Per κ: final test accuracy (when measured) and train loss, mean ± stderr, their
    differences from κ = 1 with the (1 − 2α) interval, the margins and the verdict."""
    summary = []
    for row in study.rows:
        entry: dict[str, Any] = {"kappa": row["kappa"], "lr": row["lr"],
                                 "batch_size": row["batch_size"], "verdict": row["verdict"]}
        for name in ("test_accuracy", "train_loss"):
            if name not in study.margins or "metrics" not in row:
                continue
            metric, gap = row["metrics"][name], row["difference"][name]
            entry[name] = {
                "mean": metric["mean"][-1], "stderr": metric["stderr"][-1],
                "difference": gap["mean"][-1], "difference_stderr": gap["stderr"][-1],
                "interval": row["final_interval"][name], "margin": study.margins[name]}
        summary.append(entry)
    return summary

