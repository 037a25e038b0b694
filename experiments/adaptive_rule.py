"""Claim: Adam and RMSprop scaled by the square-root rule (batch κB, lr √κ·ε, each β → 1−κ(1−β))
keep the κ = 1 train-loss and test-accuracy trajectory at the same epochs, while the linear
rule (lr κε) does not; plain SGD follows the linear rule (Malladi et al. 2022; docs/adaptive.md
§5).

Design. MNIST-1D, N = 1000 (test 1000), an MLP of width 32, minibatches with replacement (so
Σ_B = C/B exactly for every B), base B = 2, about 10 epochs, the base hyper-parameters of
:data:`sgdsde.studies.RULE_BASES` (sgd: ε = 0.02; rmsprop: ε = 0.001, decay 0.999, bias
correction; adam: ε = 0.001, b1 = 0.99, b2 = 0.999). For each κ an independent ensemble of
`paths` minibatch streams from the same initialisation; :func:`sgdsde.rule_study` decides
each κ against κ = 1 by two one-sided tests at α = 0.01 at every checkpoint, with margins of
10 % of the κ = 1 run's progress on each metric. The second surface is the quadratic of
docs/adaptive.md §6 (H = diag(2, 0.5), non-commuting C, from θ₀ = (1, −1); Adam, B = 4,
ε = 0.025), with the loss as its only metric.

Run: ``python experiments/adaptive_rule.py [--scale small|full] [--out DIR]``. ``small``
(κ = 1, 2, 4, 8, 16; 32 seeds per κ) takes about 6 minutes on 2 CPU cores; ``full`` adds
κ = 32, 64 (B = 64, 128 ≤ N/8) with 128 seeds per κ (for a GPU).
"""

from __future__ import annotations

import time

import jax.numpy as jnp
from _common import parse_args, print_claims, write_outputs

from sgdsde import Adam, Quadratic, RunConfig, learned_surface, load_dataset, rule_study
from sgdsde.plots import rule_figure
from sgdsde.studies import rule_base_run, rule_summary

# --- parameters -------------------------------------------------------------------------
N_TRAIN, N_TEST, WIDTH, BATCH, EPOCHS, CHECKPOINTS, SEED = 1000, 1000, 32, 2, 10.0, 5, 0
OPTIMIZERS, RULES = ("adam", "rmsprop", "sgd"), ("sqrt", "linear")
MARGIN_FRACTION, ALPHA = 0.1, 0.01
QUADRATIC = {"lr": 0.025, "batch_size": 4, "steps": 1600, "theta0": (1.0, -1.0)}
SCALES = {"small": {"kappas": (1, 2, 4, 8, 16), "paths": 32, "quadratic_paths": 2000},
          "full": {"kappas": (1, 2, 4, 8, 16, 32, 64), "paths": 128,
                   "quadratic_paths": 8000}}


def evaluate(studies: dict[str, dict]) -> list[dict]:
    """One claim per optimiser and surface, from the verdicts (module docstring)."""
    claims = []

    def verdicts(key: str) -> dict[float, str]:
        return {r["kappa"]: r["verdict"] for r in studies[key]["rows"] if r["kappa"] != 1}

    for surface in ("mnist1d", "quadratic"):
        for optimizer in (("adam", "rmsprop") if surface == "mnist1d" else ("adam",)):
            good, bad = verdicts(f"{surface}/{optimizer}/sqrt"), verdicts(
                f"{surface}/{optimizer}/linear")
            claims.append({
                "statement": f"{surface}: {optimizer} follows the square-root rule at every κ "
                             "and leaves the κ=1 trajectory under the linear rule at the "
                             "largest κ",
                "held": all(v == "equivalent" for v in good.values())
                and bad[max(bad)] == "different",
                "measured": f"sqrt {good}; linear {bad}"})
    good, bad = verdicts("mnist1d/sgd/linear"), verdicts("mnist1d/sgd/sqrt")
    claims.append({
        "statement": "mnist1d: SGD follows the linear rule at every κ, not the square-root rule",
        "held": all(v == "equivalent" for v in good.values()) and bad[max(bad)] == "different",
        "measured": f"linear {good}; sqrt {bad}"})
    return claims


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/adaptive_rule")
    scale = SCALES[args.scale]
    start = time.perf_counter()
    data = load_dataset("mnist1d", n_train=N_TRAIN, n_test=N_TEST, seed=SEED)
    mlp = learned_surface(data, "mlp", width=WIDTH, seed=SEED)
    studies, figures = {}, {}
    for optimizer in OPTIMIZERS:
        base = rule_base_run(optimizer, n_train=N_TRAIN, batch_size=BATCH, epochs=EPOCHS,
                             kappas=scale["kappas"], checkpoints=CHECKPOINTS,
                             paths=scale["paths"], seed=SEED)
        for rule in RULES:
            study = rule_study(mlp, base, rule, scale["kappas"], checkpoints=CHECKPOINTS,
                               margin_fraction=MARGIN_FRACTION, alpha=ALPHA)
            studies[f"mnist1d/{optimizer}/{rule}"] = {**study.to_dict(),
                                                      "summary": rule_summary(study)}
            print(f"  mnist1d {optimizer} {rule}: "
                  f"{[r['verdict'] for r in study.rows]}", flush=True)
        figures[f"rule_mnist1d_{optimizer}"] = rule_figure(
            [studies[f"mnist1d/{optimizer}/{rule}"] for rule in RULES],
            title=f"{optimizer} on MNIST-1D (B₀ = {BATCH}, {scale['paths']} seeds per κ)")
    quadratic = Quadratic.from_spectra((2.0, 0.5), (6400.0, 1600.0), rotate_noise=True,
                                       seed=0)
    base = RunConfig(lr=QUADRATIC["lr"], batch_size=QUADRATIC["batch_size"],
                     steps=QUADRATIC["steps"], paths=scale["quadratic_paths"], seed=SEED,
                     optimizer=Adam(b1=0.99, b2=0.999))
    quadratic_kappas = [k for k in scale["kappas"] if QUADRATIC["steps"] % (4 * k) == 0]
    for rule in RULES:
        study = rule_study(quadratic, base, rule, quadratic_kappas, checkpoints=CHECKPOINTS,
                           margin_fraction=MARGIN_FRACTION, alpha=ALPHA,
                           theta0=jnp.asarray(QUADRATIC["theta0"]))
        studies[f"quadratic/adam/{rule}"] = {**study.to_dict(), "summary": rule_summary(study)}
    figures["rule_quadratic_adam"] = rule_figure(
        [studies[f"quadratic/adam/{rule}"] for rule in RULES],
        title="Adam on the quadratic (non-commuting noise)")
    claims = evaluate(studies)
    wall = time.perf_counter() - start
    record = {"scale": args.scale, "settings": {**scale, "n_train": N_TRAIN, "width": WIDTH,
              "batch_size": BATCH, "epochs": EPOCHS, "margin_fraction": MARGIN_FRACTION,
              "alpha": ALPHA, "quadratic": QUADRATIC}, "dataset": data.describe(),
              "studies": studies, "claims": claims, "wall_seconds": wall}
    write_outputs(args.out, "adaptive_rule", record, figures)
    print_claims(claims, wall, args.out)


if __name__ == "__main__":
    main()
