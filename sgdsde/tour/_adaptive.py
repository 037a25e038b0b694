"""The tour's adaptive section: batch-size scaling rules for Adam, RMSprop and SGD on MNIST-1D.

For each optimiser a base run (:func:`sgdsde.studies.rule_base_run`: B = 2, N = 1000, with
replacement) is scaled to κ = 4 and 16 by the square-root and by the linear rule, and each κ
is compared with κ = 1 on the whole train-loss and test-accuracy trajectory at the same epochs
(:func:`sgdsde.studies.rule_study`: two one-sided tests at α = :data:`ALPHA` against a margin of
10 % of the κ = 1 run's progress on each metric). Claims (Malladi et al. 2022; docs/adaptive.md
§5):

1. Adam and RMSprop scaled by the square-root rule are equivalent to κ = 1 at every κ.
2. Adam and RMSprop scaled by the linear rule are different at the largest κ.
3. SGD scaled by the linear rule is equivalent at every κ, and by the square-root rule
   different at the largest κ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ..learning import load_dataset
from ..plots import rule_figure
from ..studies import rule_base_run, rule_study
from ..surfaces import learned_surface
from ._claims import ALPHA, Claim

OPTIMIZERS = ("adam", "rmsprop", "sgd")
RULES = ("sqrt", "linear")


@dataclasses.dataclass(frozen=True)
class AdaptiveTourSettings:
    """Sizes of the adaptive section (defaults: under a minute on 2 idle CPU cores)."""

    n_train: int = 1000
    n_test: int = 1000
    width: int = 32
    batch_size: int = 2
    epochs: float = 10.0
    kappas: tuple[int, ...] = (1, 4, 16)
    checkpoints: int = 5
    paths: int = 32
    margin_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> AdaptiveTourSettings:
        """Seconds of compute (smoke tests): N = 200, 2 epochs, 4 paths, κ = 1, 4."""
        small = dict(n_train=200, n_test=200, width=8, epochs=2.0, kappas=(1, 4), paths=4)
        return cls(**{**small, **overrides})


def run_adaptive_section(
    settings: AdaptiveTourSettings, on_step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every (optimiser, rule) study and the claims, as a JSON-ready record."""
    data = load_dataset("mnist1d", n_train=settings.n_train, n_test=settings.n_test,
                        seed=settings.seed)
    surface = learned_surface(data, "mlp", width=settings.width, seed=settings.seed)
    studies = {}
    for optimizer in OPTIMIZERS:
        base = rule_base_run(optimizer, n_train=settings.n_train,
                             batch_size=settings.batch_size, epochs=settings.epochs,
                             kappas=settings.kappas, checkpoints=settings.checkpoints,
                             paths=settings.paths, seed=settings.seed)
        for rule in RULES:
            if on_step is not None:
                on_step(f"{optimizer}: {rule} rule, κ = {settings.kappas}")
            study = rule_study(surface, base, rule, settings.kappas,
                               checkpoints=settings.checkpoints,
                               margin_fraction=settings.margin_fraction, alpha=ALPHA)
            studies[f"{optimizer}/{rule}"] = {
                **study.to_dict(), "base_lr": base.lr, "base_steps": base.steps,
                "hyperparameters": base.optimizer.hyperparameters()}
    record = {"settings": dataclasses.asdict(settings), "dataset": data.describe(),
              "studies": studies}
    record["claims"] = [c.to_dict() for c in adaptive_claims(record)]
    return record


def _verdicts(record: Mapping[str, Any], key: str) -> dict[float, str]:
    return {row["kappa"]: row["verdict"] for row in record["studies"][key]["rows"]
            if row["kappa"] != 1}


def _measured(record: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        rows = record["studies"][key]["rows"][1:]
        loss = ", ".join(f"κ={r['kappa']:g} {r['verdict']}"
                         + (f" (Δloss {r['difference']['train_loss']['mean'][-1]:+.3f})"
                            if "difference" in r else "") for r in rows)
        margin = record["studies"][key]["margins"]["train_loss"]
        parts.append(f"{key}: {loss}; loss margin {margin:.3f}")
    return "; ".join(parts)


def adaptive_claims(record: Mapping[str, Any]) -> list[Claim]:
    """The section's three claims (module docstring) from its record."""
    fraction = record["settings"]["margin_fraction"]
    test = (f"TOST at α={ALPHA} at every checkpoint (margin {fraction:g} × the κ=1 progress "
            "of each metric); 'different' = a Bonferroni interval outside the margin")
    adaptive = ("adam", "rmsprop")
    sqrt_keys = tuple(f"{o}/sqrt" for o in adaptive)
    linear_keys = tuple(f"{o}/linear" for o in adaptive)
    largest = max(record["settings"]["kappas"])
    sqrt_claim = Claim(
        name="adaptive_sqrt_rule",
        statement="Adam and RMSprop scaled by the square-root rule (lr×√κ, β→1−κ(1−β)) keep "
        "the κ=1 train-loss and test-accuracy trajectory at every κ",
        predicted="every κ equivalent",
        measured=_measured(record, sqrt_keys),
        held=all(v == "equivalent" for k in sqrt_keys for v in _verdicts(record, k).values()),
        test=test,
    )
    linear_claim = Claim(
        name="adaptive_linear_rule",
        statement=f"Adam and RMSprop scaled by the linear rule (lr×κ) leave the κ=1 "
        f"trajectory at κ={largest:g}",
        predicted=f"κ={largest:g} different",
        measured=_measured(record, linear_keys),
        held=all(_verdicts(record, k)[largest] == "different" for k in linear_keys),
        test=test,
    )
    sgd_claim = Claim(
        name="sgd_linear_rule",
        statement="Plain SGD follows the linear rule, not the square-root rule",
        predicted=f"linear: every κ equivalent; square-root: κ={largest:g} different",
        measured=_measured(record, ("sgd/linear", "sgd/sqrt")),
        held=all(v == "equivalent" for v in _verdicts(record, "sgd/linear").values())
        and _verdicts(record, "sgd/sqrt")[largest] == "different",
        test=test,
    )
    return [sqrt_claim, linear_claim, sgd_claim]


def adaptive_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's table: per optimiser, rule and κ the final metrics, the differences
    from κ = 1 with their (1 − 2α) intervals, and the verdict."""
    s = record["settings"]
    lines = [
        f"MNIST-1D, N = {s['n_train']} (test {s['n_test']}), MLP width {s['width']}, "
        f"minibatches with replacement, base B = {s['batch_size']}, about {s['epochs']:g} "
        f"epochs, {s['paths']} seeds (minibatch streams) per κ; margins are "
        f"{s['margin_fraction']:g} of the κ=1 progress.",
        "",
        "| optimiser | rule | κ | lr | B | test acc | Δ acc [interval] | train loss | "
        "Δ loss [interval] | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, study in record["studies"].items():
        optimizer, rule = key.split("/")
        for row in study["rows"]:
            cells = [optimizer, rule, f"{row['kappa']:g}", f"{row['lr']:.4g}",
                     str(row["batch_size"])]
            for name in ("test_accuracy", "train_loss"):
                if "metrics" not in row:
                    cells += ["diverged", ""]
                    continue
                mean, se = (row["metrics"][name][k][-1] for k in ("mean", "stderr"))
                low, high = row["final_interval"][name]
                cells += [f"{mean:.4f} ± {se:.4f}",
                          f"{row['difference'][name]['mean'][-1]:+.4f} "
                          f"[{low:+.4f}, {high:+.4f}]"]
            lines.append("| " + " | ".join(cells + [row["verdict"]]) + " |")
    return lines + [""]


def adaptive_figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """Per optimiser: the square-root and the linear rule's trajectories side by side."""
    return {f"rule_{optimizer}": rule_figure(
        [record["studies"][f"{optimizer}/{rule}"] for rule in RULES],
        title=f"{optimizer} on MNIST-1D: κ-fold batches at the same epochs")
        for optimizer in OPTIMIZERS}
