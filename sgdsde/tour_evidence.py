"""The tour's evidence section (THEORY §5): random against informative labels, and the
curvature of the minima SGD finds at different noise scales.

Binary logistic regression on a balanced two-class MNIST-1D subset, minimised to ‖∇C‖ ≈ 0 by
Newton's method in float64 with the exact Hessian (:func:`sgdsde.evidence.evidence_sweep`),
across a grid of L2 strengths λ, once with informative and once with balanced random labels;
then an MLP trained by SGD at several batch sizes (:func:`sgdsde.flatness.flatness_study`).
The section runs inside ``jax.enable_x64(True)``, whatever the rest of the process uses.
Claims (:func:`label_claims`, :func:`flatness_claim`):

1. Random labels: the log evidence ratio against the null model is < 0 at every λ.
2. Random labels: memorised at the smallest λ (train accuracy ≥ 0.95) while test accuracy stays
   within z·√(0.25/n_test) of 0.5 at every λ (z two-sided at 1e-4).
3. Informative labels: the ratio is > 0 at three or more λ of the grid.
4. Informative labels: across λ the ratio tracks test cross-entropy (Spearman ρ < −0.8).
5. Larger g gives flatter end points: the Hessian trace falls from the smallest to the largest
   g by more than ``bonferroni_z(1)`` combined standard errors.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from scipy import stats

from .data import load_dataset
from .evidence import chance_band, evidence_sweep, spearman
from .flatness import flatness_study
from .plots_evidence import evidence_figure, flatness_figure
from .tour import ALPHA, Claim, bonferroni_z

#: Two-sided z of the chance band for test accuracy under random labels (family 1e-4).
CHANCE_Z = float(stats.norm.isf(0.5e-4))
#: The informative ratio must track test cross-entropy at least this strongly.
RHO_MAX = -0.8
#: Grid points at which the informative ratio must be above the null.
MIN_POSITIVE = 3


@dataclasses.dataclass(frozen=True)
class EvidenceTourSettings:
    """Sizes of the evidence section: the label experiment on `classes` of MNIST-1D with
    `n_random` / `n_informative` training examples and `n_test` test examples over `lambdas`;
    the flatness study (MLP width `flat_width`, `flat_n_train` examples, ε = `flat_lr`,
    `flat_updates` updates at each of `flat_batch_sizes`, `flat_seeds` seeds, λ =
    `flat_prior_precision`)."""

    classes: tuple[int, int] = (0, 1)
    n_random: int = 64
    n_informative: int = 64
    n_test: int = 1000
    lambdas: tuple[float, ...] = tuple(np.logspace(-3, 2, 11).tolist())
    flat_n_train: int = 500
    flat_width: int = 16
    flat_lr: float = 0.1
    flat_batch_sizes: tuple[int, ...] = (5, 25, 125)
    flat_updates: int = 2000
    flat_seeds: int = 4
    flat_prior_precision: float = 1.0
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> EvidenceTourSettings:
        """Seconds of compute (smoke tests)."""
        small = dict(n_test=200, lambdas=(1e-3, 1e-1, 10.0), flat_n_train=100, flat_width=4,
                     flat_batch_sizes=(5, 50), flat_updates=100, flat_seeds=2)
        return cls(**{**small, **overrides})


def label_claims(random: Sequence[Mapping[str, Any]], informative: Sequence[Mapping[str, Any]],
                 n_test: int, where: str = "") -> list[Claim]:
    """Claims 1–4 of the module docstring from two :func:`evidence_sweep` outputs (one record
    per λ, sorted by λ)."""
    band = chance_band(n_test, 2, z=CHANCE_Z)
    worst = max(r["log_evidence_ratio"] for r in random)
    ratios = [r["log_evidence_ratio"] for r in informative]
    rho = spearman(ratios, [r["test_cross_entropy"] for r in informative])
    positive = sum(r > 0 for r in ratios)
    n = random[0]["n_examples"]
    test_range = (min(r["test_accuracy"] for r in random), max(r["test_accuracy"] for r in random))
    return [
        Claim("random_below_null", f"Random labels{where}: the evidence prefers the null "
              "model at every λ", "log evidence ratio < 0 at every λ",
              f"max over λ {worst:.3g} nats ({worst / n:.3g} per example)",
              bool(worst < 0), "sign of the exact Laplace log evidence ratio"),
        Claim("random_memorised", f"Random labels{where}: the weakly regularised model "
              "memorises them yet stays at chance on the test set",
              f"train accuracy ≥ 0.95 at λ = {random[0]['lambda']:.3g}; test accuracy within "
              f"0.5 ± {band:.3f}",
              f"train {random[0]['train_accuracy']:.3f}; test in [{test_range[0]:.3f}, "
              f"{test_range[1]:.3f}]",
              bool(random[0]["train_accuracy"] >= 0.95
                   and all(abs(r["test_accuracy"] - 0.5) <= band for r in random)),
              f"binomial band z = {CHANCE_Z:.2f} (two-sided 1e-4)"),
        Claim("informative_above_null", f"Informative labels{where}: the evidence prefers "
              "the model to the null", f"ratio > 0 at ≥ {MIN_POSITIVE} λ",
              f"ratio > 0 at {positive}/{len(ratios)} λ (max {max(ratios) / n:.3g} per example)",
              bool(positive >= MIN_POSITIVE), "sign of the log evidence ratio"),
        Claim("evidence_tracks_test_ce", f"Informative labels{where}: the evidence tracks the "
              "test cross-entropy across λ", f"Spearman ρ < {RHO_MAX:g}", f"ρ = {rho:.3f}",
              bool(rho < RHO_MAX), "rank correlation over the λ grid"),
    ]


def flatness_claim(summaries: Sequence[Mapping[str, Any]]) -> Claim:
    """Claim 5: the Hessian trace at the largest g (first summary, smallest B) is below the
    trace at the smallest g (last summary) by more than ``bonferroni_z(1)`` combined se."""
    high, low = summaries[0], summaries[-1]
    drop = low["hessian_trace"]["mean"] - high["hessian_trace"]["mean"]
    se = math.hypot(low["hessian_trace"]["stderr"], high["hessian_trace"]["stderr"])
    z = bonferroni_z(1)
    return Claim(
        "noise_flattens", "SGD at a larger noise scale g ends at flatter points",
        f"tr ∇∇C falls from g = {low['noise_scale']:.3g} to g = {high['noise_scale']:.3g} by "
        f"> {z:.2f} se",
        f"falls by {drop:.4g} ± {se:.2g} (tr {low['hessian_trace']['mean']:.4g} → "
        f"{high['hessian_trace']['mean']:.4g})",
        bool(math.isfinite(drop) and drop > z * se), f"z of the difference at α={ALPHA}")


def run_evidence_section(
    settings: EvidenceTourSettings, on_step: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The label experiment and the flatness study in float64.

    **Returns:** the JSON-ready record (with the claims) and the figures by file stem."""
    step = on_step or (lambda _: None)
    lambdas = list(settings.lambdas)
    with jax.enable_x64(True):
        runs = {}
        for label, n_train, random in (("random", settings.n_random, True),
                                       ("informative", settings.n_informative, False)):
            step(f"Laplace evidence, {label} labels, {len(lambdas)} values of λ")
            data = load_dataset("mnist1d", n_train=n_train, n_test=settings.n_test,
                                classes=settings.classes, random_labels=random,
                                seed=settings.seed)
            runs[label] = {"dataset": data.describe(),
                           "records": evidence_sweep(data, lambdas, seed=settings.seed)}
        step(f"curvature of SGD end points at B ∈ {list(settings.flat_batch_sizes)}")
        flat_data = load_dataset("mnist1d", n_train=settings.flat_n_train, n_test=1000,
                                 seed=settings.seed)
        points = flatness_study(
            flat_data, settings.flat_batch_sizes, lr=settings.flat_lr,
            updates=settings.flat_updates, seeds=settings.flat_seeds, width=settings.flat_width,
            prior_precision=settings.flat_prior_precision, seed=settings.seed)
    summaries = [p.summary() for p in points]
    n_test = runs["random"]["dataset"]["n_test"]
    claims = label_claims(runs["random"]["records"], runs["informative"]["records"], n_test)
    claims.append(flatness_claim(summaries))
    record = {"settings": dataclasses.asdict(settings), "labels": runs, "flatness": summaries,
              "claims": [c.to_dict() for c in claims]}
    classes = " vs ".join(str(c) for c in settings.classes)
    figures = {
        "evidence_labels": evidence_figure(
            {f"random labels, N={settings.n_random}": runs["random"]["records"],
             f"informative, N={settings.n_informative}": runs["informative"]["records"]},
            f"MNIST-1D {classes}: logistic regression, Laplace evidence"),
        "flatness": flatness_figure(summaries, "SGD noise and flatness (MNIST-1D MLP)"),
    }
    return record, figures


def evidence_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's tables: per λ the accuracies and evidence of both label modes, and the
    curvature of the SGD end points per g."""
    lines = ["| λ | random: train acc | random: test acc | random: ratio/example | "
             "informative: test acc | informative: test CE | informative: ratio/example |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    random, informative = (record["labels"][k]["records"] for k in ("random", "informative"))
    for r, i in zip(random, informative, strict=True):
        lines.append(
            f"| {r['lambda']:.3g} | {r['train_accuracy']:.3f} | {r['test_accuracy']:.3f} | "
            f"{r['log_evidence_ratio'] / r['n_examples']:+.3f} | {i['test_accuracy']:.3f} | "
            f"{i['test_cross_entropy']:.3f} | {i['log_evidence_ratio'] / i['n_examples']:+.3f} |")
    lines += ["", "| g | B | test accuracy | tr ∇∇C at the end point | Hessian positive "
              "definite |", "| --- | --- | --- | --- | --- |"]
    for s in record["flatness"]:
        acc, tr = s["test_accuracy"], s["hessian_trace"]
        lines.append(f"| {s['noise_scale']:.3g} | {s['batch_size']} | {acc['mean']:.3f} ± "
                     f"{acc['stderr']:.3f} | {tr['mean']:.4g} ± {tr['stderr']:.2g} | "
                     f"{s['positive_definite_fraction']:.0%} |")
    return lines + [""]
