"""The tour's evidence section (docs/theory.md §5): random against informative labels, and the
curvature of the minima SGD finds at different noise scales.

Binary logistic regression on a balanced two-class MNIST-1D subset, minimised to ‖∇C‖ ≈ 0 by
Newton's method in float64 with the exact Hessian (:func:`sgdsde.evidence.evidence_sweep`),
across a grid of L2 strengths λ, once with informative labels and for many draws of balanced
random labels (:func:`sgdsde.evidence.random_label_study`); then an MLP trained by SGD
at several batch sizes (:func:`sgdsde.evidence.flatness_study`).
The section runs inside ``jax.enable_x64(True)``, whatever the rest of the process uses.
Claims (:func:`label_claims`, :func:`flatness_claim`):

1. Random labels: averaged over the draws, the log evidence ratio R against the null model is
   below zero at every λ (one-sided z, Bonferroni over λ) — as the closed form predicts when
   the data have fewer non-constant features than N − 1 (λ·E[R] → c < 0; docs/theory.md §5).
   Single draws are not: sd[R] falls like λ⁻¹ too, so at large λ a fixed fraction of single
   draws is above zero.
2. Random labels: memorised at the smallest λ (mean train accuracy ≥ 0.95) while the mean test
   accuracy stays within z·√(0.25/(n_test·draws)) of 0.5 at every λ (z two-sided at 1e-4).
3. Random labels: at λ ≥ 100 (θ₀ ≈ 0) the mean R equals the closed form E[R].
4. Informative labels: the ratio is > 0 at three or more λ of the grid.
5. Informative labels: across λ the ratio tracks test cross-entropy (Spearman ρ < −0.8).
6. Larger g gives flatter end points: the Hessian trace falls from the smallest to the largest
   g by more than ``bonferroni_z(1)`` combined standard errors.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from ..compare import chance_band, spearman
from ..evidence import evidence_sweep, flatness_study, random_label_study, trace_drop
from ..learning import load_dataset
from ..plots import evidence_figure, flatness_figure, random_label_figure
from ._claims import ALPHA, Claim, bonferroni_z, one_sided_z

#: Two-sided z of the chance band for test accuracy under random labels (family 1e-4).
CHANCE_Z = one_sided_z(0.5e-4)
#: The informative ratio must track test cross-entropy at least this strongly.
RHO_MAX = -0.8
#: Grid points at which the informative ratio must be above the null.
MIN_POSITIVE = 3
#: λ from which θ₀ ≈ 0 and the random-label closed form applies
#: (:func:`sgdsde.evidence.random_label_prediction`).
CLOSED_FORM_LAMBDA = 100.0


@dataclasses.dataclass(frozen=True)
class EvidenceTourSettings:
    """Sizes of the evidence section: the label experiment on `classes` of MNIST-1D with
    `n_random` / `n_informative` training examples and `n_test` test examples over `lambdas`;
    the flatness study (MLP width `flat_width`, `flat_n_train` examples, ε = `flat_lr`,
    SDE time `flat_sde_time` (updates·ε) at each of `flat_batch_sizes`, `flat_seeds` seeds,
    λ = `flat_prior_precision`)."""

    classes: tuple[int, int] = (0, 1)
    n_random: int = 64
    n_informative: int = 64
    n_test: int = 1000
    draws: int = 32
    lambdas: tuple[float, ...] = tuple(np.logspace(-3, 2, 11).tolist())
    flat_n_train: int = 500
    flat_width: int = 16
    flat_lr: float = 0.1
    flat_batch_sizes: tuple[int, ...] = (5, 25, 125)
    flat_sde_time: float = 200.0
    flat_seeds: int = 4
    flat_prior_precision: float = 1.0
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> EvidenceTourSettings:
        """Seconds of compute (smoke tests)."""
        small = dict(n_test=200, draws=3, lambdas=(1e-3, 1e-1, 10.0), flat_n_train=100,
                     flat_width=4, flat_batch_sizes=(5, 50), flat_sde_time=10.0, flat_seeds=2)
        return cls(**{**small, **overrides})


def label_claims(random: Sequence[Mapping[str, Any]], informative: Sequence[Mapping[str, Any]],
                 n_test: int, where: str = "") -> list[Claim]:
    """Claims 1–5 of the module docstring from a :func:`random_label_study` summary and an
    :func:`evidence_sweep` output with informative labels (one record per λ, sorted by λ)."""
    draws = random[0]["draws"]
    n = random[0]["n_examples"]
    z_below = one_sided_z(ALPHA / len(random))
    upper = [r["mean"] + z_below * r["stderr"] for r in random]
    band = chance_band(n_test * draws, 2, z=CHANCE_Z)
    test_range = (min(r["test_accuracy"] for r in random),
                  max(r["test_accuracy"] for r in random))
    large = [r for r in random if r["lambda"] >= CLOSED_FORM_LAMBDA]
    z_form = bonferroni_z(max(len(large), 1))
    form_z = [abs(r["mean"] - r["predicted_mean"]) / (r["predicted_sd"] / math.sqrt(draws))
              for r in large]
    ratios = [r["log_evidence_ratio"] for r in informative]
    rho = spearman(ratios, [r["test_cross_entropy"] for r in informative])
    positive = sum(r > 0 for r in ratios)
    return [
        Claim("random_below_null", f"Random labels{where}: averaged over {draws} label draws "
              "the evidence prefers the null model at every λ",
              f"mean log evidence ratio + {z_below:.2f} se < 0 at every λ (closed form: "
              f"λ·E[R] → {random[-1]['predicted_lambda_mean_limit']:.3g} as λ → ∞)",
              f"largest upper bound {max(upper):.3g} nats ({max(upper) / n:.3g} per example); "
              f"single draws above 0: up to {max(r['positive_fraction'] for r in random):.0%} "
              "(at the largest λ)",
              bool(max(upper) < 0), f"one-sided z over draws, Bonferroni over {len(random)} λ "
              f"at α={ALPHA}"),
        Claim("random_memorised", f"Random labels{where}: the weakly regularised model "
              "memorises them yet stays at chance on the test set",
              f"mean train accuracy ≥ 0.95 at λ = {random[0]['lambda']:.3g}; mean test accuracy "
              f"within 0.5 ± {band:.3f}",
              f"train {random[0]['train_accuracy']:.3f}; test in [{test_range[0]:.3f}, "
              f"{test_range[1]:.3f}]",
              bool(random[0]["train_accuracy"] >= 0.95
                   and all(abs(r["test_accuracy"] - 0.5) <= band for r in random)),
              f"binomial band over {draws}×{n_test} test labels, z = {CHANCE_Z:.2f} "
              "(two-sided 1e-4)"),
        Claim("random_closed_form", f"Random labels{where}: at large λ the mean ratio equals "
              "the closed form E[R] = ½tr(MΣ_g) − ½Σln(1+a_j/λ) "
              "(sgdsde.evidence.random_label_prediction)",
              f"|mean − E[R]| ≤ {z_form:.2f}·sd[R]/√{draws} at λ ≥ {CLOSED_FORM_LAMBDA:g}",
              "; ".join(f"λ={r['lambda']:g}: {r['mean']:.3g} vs {r['predicted_mean']:.3g} "
                        f"(z = {z:.2f})" for r, z in zip(large, form_z, strict=True))
              or "no λ in range",
              bool(large) and max(form_z) <= z_form,
              f"z with the closed-form sd, Bonferroni at α={ALPHA}"),
        Claim("informative_above_null", f"Informative labels{where}: the evidence prefers "
              "the model to the null", f"ratio > 0 at ≥ {MIN_POSITIVE} λ",
              f"ratio > 0 at {positive}/{len(ratios)} λ (max {max(ratios) / n:.3g} per example)",
              bool(positive >= MIN_POSITIVE), "sign of the log evidence ratio"),
        Claim("evidence_tracks_test_ce", f"Informative labels{where}: the evidence tracks the "
              "test cross-entropy across λ", f"Spearman ρ < {RHO_MAX:g}", f"ρ = {rho:.3f}",
              bool(rho < RHO_MAX), "rank correlation over the λ grid"),
    ]


def flatness_claim(summaries: Sequence[Mapping[str, Any]]) -> Claim:
    """Claim 6: the Hessian trace at the largest g (first summary, smallest B) is below the
    trace at the smallest g (last summary) by more than ``bonferroni_z(1)`` combined se."""
    high, low = summaries[0], summaries[-1]
    drop, se = trace_drop(summaries)
    z = bonferroni_z(1)
    progress = ", ".join(f"g = {p['noise_scale']:.3g}: {p['epochs']:g} epochs, train loss "
                         f"{p['train_loss']['mean']:.3f}" for p in (high, low))
    return Claim(
        "noise_flattens", "At equal SDE time (the SDE's clock: the runs differ only in their "
        "noise), SGD at a larger noise scale g ends at flatter points",
        f"tr ∇∇C falls from g = {low['noise_scale']:.3g} to g = {high['noise_scale']:.3g} by "
        f"> {z:.2f} se",
        f"falls by {drop:.4g} ± {se:.2g} (tr {low['hessian_trace']['mean']:.4g} → "
        f"{high['hessian_trace']['mean']:.4g}); progress {progress}",
        bool(math.isfinite(drop) and drop > z * se), f"z of the difference at α={ALPHA}")


def run_evidence_section(
    settings: EvidenceTourSettings, on_step: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The label experiment and the flatness study in float64.

    **Returns:** the JSON-ready record (with the claims) and the figures by file stem."""
    step = on_step or (lambda _: None)
    lambdas = list(settings.lambdas)
    with jax.enable_x64(True):
        step(f"Laplace evidence, random labels, {settings.draws} draws × {len(lambdas)} λ")
        random = random_label_study("mnist1d", lambdas, n_train=settings.n_random,
                                    n_test=settings.n_test, classes=settings.classes,
                                    draws=settings.draws, first_seed=settings.seed)
        step(f"Laplace evidence, informative labels, {len(lambdas)} values of λ")
        data = load_dataset("mnist1d", n_train=settings.n_informative, n_test=settings.n_test,
                            classes=settings.classes, seed=settings.seed)
        informative = evidence_sweep(data, lambdas, seed=settings.seed)
        step(f"curvature of SGD end points at B ∈ {list(settings.flat_batch_sizes)}")
        flat_data = load_dataset("mnist1d", n_train=settings.flat_n_train, n_test=1000,
                                 seed=settings.seed)
        points = flatness_study(
            flat_data, settings.flat_batch_sizes, lr=settings.flat_lr,
            sde_time=settings.flat_sde_time, seeds=settings.flat_seeds, width=settings.flat_width,
            prior_precision=settings.flat_prior_precision, seed=settings.seed)
    summaries = [p.summary() for p in points]
    claims = label_claims(random, informative, settings.n_test)
    claims.append(flatness_claim(summaries))
    record = {"settings": dataclasses.asdict(settings), "random_labels": random,
              "informative": {"dataset": data.describe(), "records": informative},
              "flatness": summaries, "claims": [c.to_dict() for c in claims]}
    classes = " vs ".join(str(c) for c in settings.classes)
    figures = {
        "evidence_labels": evidence_figure(
            {f"informative, N={settings.n_informative}": informative},
            f"MNIST-1D {classes}: logistic regression, Laplace evidence"),
        "evidence_random_labels": random_label_figure(
            random, f"MNIST-1D {classes}, balanced random labels, N={settings.n_random}"),
        "flatness": flatness_figure(summaries, "SGD noise and flatness (MNIST-1D MLP)"),
    }
    return record, figures


def evidence_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's tables: per λ the accuracies and evidence of both label modes, and the
    curvature of the SGD end points per g."""
    random, informative = record["random_labels"], record["informative"]["records"]
    lines = [f"Random labels: {random[0]['draws']} draws of balanced labels (and subsets); the "
             "ratio R is in nats for the whole training set, E[R] and sd[R] are the large-λ "
             "closed form.", "",
             "| λ | random: train acc | random: test acc | random: R ± se | R > 0 in | E[R] "
             "(sd[R]) | informative: test acc | informative: test CE | informative: "
             "ratio/example |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r, i in zip(random, informative, strict=True):
        lines.append(
            f"| {r['lambda']:.3g} | {r['train_accuracy']:.3f} | {r['test_accuracy']:.3f} | "
            f"{r['mean']:.3g} ± {r['stderr']:.2g} | {r['positive_fraction']:.0%} | "
            f"{r['predicted_mean']:.3g} ({r['predicted_sd']:.2g}) | {i['test_accuracy']:.3f} | "
            f"{i['test_cross_entropy']:.3f} | {i['log_evidence_ratio'] / i['n_examples']:+.3f} |")
    lines += ["", "| g | B | test accuracy | tr ∇∇C at the end point | Hessian positive "
              "definite |", "| --- | --- | --- | --- | --- |"]
    for s in record["flatness"]:
        acc, tr = s["test_accuracy"], s["hessian_trace"]
        lines.append(f"| {s['noise_scale']:.3g} | {s['batch_size']} | {acc['mean']:.3f} ± "
                     f"{acc['stderr']:.3f} | {tr['mean']:.4g} ± {tr['stderr']:.2g} | "
                     f"{s['positive_definite_fraction']:.0%} |")
    return lines + [""]
