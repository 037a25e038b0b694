"""What the Laplace evidence of a binary classifier fitted to balanced random labels should be,
and a study over many label draws that measures it (docs/theory.md §5).

**Closed form (large λ).** For a binary model whose θ = 0 predicts ½ everywhere (binary
logistic regression with a bias), expand the summed negative log-likelihood about θ = 0 with
logits z ≈ Jθ (J = ∂z/∂θ at 0, N × d; its bias column is all ones):
NLL(θ) ≈ N ln 2 − gᵀθ + ½θᵀAθ, g = Jᵀu, u = y − ½, A = JᵀJ/4. With the prior (λ/2)‖θ‖² the
minimum has C(θ₀) = N ln 2 − ½gᵀMg, M = (A + λI)⁻¹, and the Laplace log evidence ratio against
the null model (predict ½) is

    R = ½ gᵀMg − ½ Σ_j ln(1 + a_j/λ),      a_j the eigenvalues of A.

Balanced random labels (a shuffled half-and-half vector) have E[uuᵀ] = S =
¼·N/(N − 1)·P, P = I − 11ᵀ/N, so with Σ_g = JᵀSJ

    E[R] = ½ tr(MΣ_g) − ½ Σ_j ln(1 + a_j/λ).

**Its sign and rate (our derivation).** Expanding M = I/λ − A/λ² + … and the logarithm,

    λ·E[R] → c = ½(tr Σ_g − tr A) = ⅛(N/(N − 1)·‖PJ‖²_F − ‖J‖²_F)      as λ → ∞.

For labels drawn from the null model itself (independent fair coins) S = I/4, Σ_g = A, c = 0
and E[R] = −tr(A²)/(4λ²) + O(λ⁻³) ≤ 0 (Gibbs' inequality). Balanced shuffled labels are *not*
such draws: P removes the bias column (its Occam penalty ½ ln(1 + N/(4λ)) is paid with nothing
to fit, since a balanced vector has Σu_i = 0) and rescales the feature columns by N/(N − 1). For
features standardised on the training set (‖x_j‖² = N, constant features zero)

    c = (N/8)·(p'/(N − 1) − 1),     p' = the number of non-constant features,

so E[R] ≈ c/λ: negative when p' < N − 1, **positive** when p' > N − 1 (more features than
N − 1: the fit to balanced labels beats the null on average). The λ⁻² term is large, so the
asymptote is reached slowly (λ ≳ 10⁴ on MNIST-1D with N = 32).

The spread comes from the quadratic form ½uᵀBu, B = JMJᵀ. Labels are ±½, so the diagonal
Σ_i B_ii u_i² = ¼ tr B does not fluctuate (a Gaussian-u formula would count it and overstate
sd[R] when d ≳ N); treating the centred labels Pu as independent ±½ entries with variance
¼·N/(N − 1),

    sd[R] ≈ (1/32 · (N/(N − 1))² · Σ_{i≠j} B̃_ij²)^½,    B̃ = PBP,

which also falls like λ⁻¹: at large λ the fraction of single draws with R > 0 tends to a
constant, often near one half. "The evidence rejects random labels" is therefore a statement
about the mean over label draws, and only where c < 0 (or at λ where E[R] < 0). The expansion
needs θ₀ small, i.e. large λ; at small λ the model memorises the labels, the fit saturates and
R is far below zero but above this E[R].
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
    """E[R], sd[R] and the asymptote c = lim λ·E[R] of the module docstring for binary logistic
    regression on `dataset`'s inputs (its labels are not used), one record per λ. Needs jax
    x64."""
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
    asymptote = 0.125 * (scale * np.sum(centred**2) - np.sum(jac**2))  # ⅛(N/(N−1)‖PJ‖² − ‖J‖²)
    records = []
    for lam in values:
        b = (centred / (eigenvalues + lam)) @ centred.T  # B̃ = PJMJᵀP
        # E[R]: ½tr(MΣ_g) = ½·¼·N/(N−1)·tr(B̃)
        mean = 0.125 * scale * np.trace(b) - 0.5 * np.sum(np.log1p(eigenvalues / lam))
        off_diagonal = np.sum(b**2) - np.sum(np.diag(b) ** 2)
        sd = math.sqrt(off_diagonal / 32.0) * scale
        records.append({"lambda": lam, "mean": float(mean), "sd": float(sd),
                        "lambda_mean_limit": float(asymptote)})
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
            "predicted_lambda_mean_limit": float(np.mean([p[j]["lambda_mean_limit"]
                                                          for p in predicted])),
        })
    return summary
