"""What the Laplace evidence of a binary classifier fitted to balanced random labels should be,
and a study over many label draws that measures it (docs/theory.md §5).

**Closed form (large λ).** For a binary model whose θ = 0 predicts ½ everywhere (binary
logistic regression), expand the summed negative log-likelihood about θ = 0 with logits
z ≈ Jθ (J = ∂z/∂θ at 0, N × d): NLL(θ) ≈ N ln 2 − gᵀθ + ½θᵀAθ, g = Jᵀ(y − ½), A = JᵀJ/4.
With the prior (λ/2)‖θ‖² the minimum has C(θ₀) = N ln 2 − ½gᵀMg, M = (A + λI)⁻¹, and the
Laplace log evidence ratio against the null model (predict ½) is

    R = ½ gᵀMg − ½ Σ_j ln(1 + a_j/λ),      a_j the eigenvalues of A.

Balanced random labels (a shuffled half-and-half vector) have E[(y − ½)(y − ½)ᵀ] = S =
¼·N/(N − 1)·(I − 11ᵀ/N), so with Σ_g = JᵀSJ

    E[R] = ½ tr(MΣ_g) − ½ Σ_j ln(1 + a_j/λ) ≤ 0.

The spread comes from the quadratic form ½uᵀBu in u = y − ½, B = JMJᵀ. Labels are ±½, so the
diagonal Σ_i B_ii u_i² = ¼ tr B does not fluctuate (a Gaussian-u formula would count it and
overstate sd[R] when d ≳ N); treating the centred labels Pu (P = I − 11ᵀ/N) as independent
±½ entries with variance ¼·N/(N − 1),

    sd[R] ≈ (1/32 · (N/(N − 1))² · Σ_{i≠j} B̃_ij²)^½,    B̃ = PBP.

E[R] ≤ 0 is Gibbs' inequality (the null *is* the law of random labels), but |E[R]| falls like
λ⁻² while sd[R] falls like λ⁻¹: at large λ a single draw has R > 0 with a probability that
tends to ½. "The evidence rejects random labels at every λ" therefore holds for the
expectation over label draws, not draw by draw. The expansion needs θ₀ small, i.e. large λ;
at small λ the model memorises the labels, the fit saturates and R is far below zero but
above this E[R].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_int
from ..learning import load_dataset, predict_logits
from ..surfaces import learned_surface
from ._laplace import check_prior_precision, evidence_sweep, require_x64


def random_label_prediction(dataset: Any, lambdas: Sequence[float]) -> list[dict[str, float]]:
    """E[R] and sd[R] of the module docstring for binary logistic regression on `dataset`'s
    inputs (its labels are not used), one record per λ. Needs jax x64."""
    require_x64()
    values = [check_prior_precision(lam) for lam in lambdas]
    surface = learned_surface(dataset, "logistic", dtype=jnp.float64)
    zero = jnp.zeros_like(surface.theta_init)
    jac = np.asarray(jax.jacfwd(
        lambda theta: predict_logits(surface.unflatten(theta), surface.x_train))(zero))
    n = jac.shape[0]
    eigenvalues, basis = np.linalg.eigh(jac.T @ jac / 4.0)  # A = V diag(a) Vᵀ
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    centred = (jac - jac.mean(axis=0)) @ basis  # P J V: PBP = (PJV) diag(1/(a+λ)) (PJV)ᵀ
    scale = n / (n - 1)
    records = []
    for lam in values:
        b = (centred / (eigenvalues + lam)) @ centred.T  # B̃ = PJMJᵀP
        # E[R]: ½tr(MΣ_g) = ½·¼·N/(N−1)·tr(B̃)
        mean = 0.125 * scale * np.trace(b) - 0.5 * np.sum(np.log1p(eigenvalues / lam))
        off_diagonal = np.sum(b**2) - np.sum(np.diag(b) ** 2)
        sd = math.sqrt(off_diagonal / 32.0) * scale
        records.append({"lambda": lam, "mean": float(mean), "sd": float(sd)})
    return records


def random_label_study(dataset: str, lambdas: Sequence[float], *, n_train: int,
                       classes: Sequence[int], draws: int, n_test: int | None = None,
                       first_seed: int = 0) -> list[dict[str, Any]]:
    """The exact-Hessian Laplace log evidence ratio R of logistic regression trained on
    `draws` independent draws of balanced random labels (seeds first_seed, …; each draw also
    draws its subset), per λ: the mean over draws ± its standard error, the draws' sd, the
    fraction of draws with R > 0, the mean train and test accuracy, and the closed-form E[R],
    sd[R] (:func:`random_label_prediction`, averaged over the draws' inputs)."""
    require_x64()
    check_int("draws", draws, 2)
    measured, predicted, train, test = [], [], [], []
    for seed in range(first_seed, first_seed + draws):
        data = load_dataset(dataset, n_train=n_train, n_test=n_test, classes=classes,
                            random_labels=True, seed=seed)
        records = evidence_sweep(data, lambdas, seed=seed)
        measured.append([r["log_evidence_ratio"] for r in records])
        train.append([r["train_accuracy"] for r in records])
        test.append([r["test_accuracy"] for r in records])
        predicted.append(random_label_prediction(data, lambdas))
    ratio = np.array(measured, float)  # (draws, λ)
    summary = []
    for j, lam in enumerate(lambdas):
        column = ratio[:, j]
        summary.append({
            "lambda": float(lam), "n_examples": n_train, "draws": draws,
            "mean": float(column.mean()), "stderr": float(column.std(ddof=1) / math.sqrt(draws)),
            "sd": float(column.std(ddof=1)), "positive_fraction": float(np.mean(column > 0)),
            "train_accuracy": float(np.mean([t[j] for t in train])),
            "test_accuracy": float(np.mean([t[j] for t in test])),
            "predicted_mean": float(np.mean([p[j]["mean"] for p in predicted])),
            "predicted_sd": float(np.mean([p[j]["sd"] for p in predicted])),
        })
    return summary
