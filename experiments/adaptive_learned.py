"""Claim: on MNIST-1D the RMSprop and Adam SDEs describe discrete optax.rmsprop / optax.adam at
a small learning rate (equivalent trajectories within 10 % of the progress, as for the rules),
and stop describing them at a large one (docs/adaptive.md §6).

Design. MNIST-1D, N = 500 (test 500), an MLP of width 16, minibatches with replacement. The
square-root family of a base run (ε₀ = 0.001, B₀ = 2, about 5 epochs; adam b1 = 0.99,
b2 = 0.999; rmsprop decay 0.999 with bias correction) approximates ONE SDE, integrated once by
Euler with dt = ε₀²/`substeps` and the exact state-dependent noise (one VJP over the N
examples, diag C(θ) from the per-example gradients). Members κ = 1 (small ε) and κ = 16, 64
(ε = 0.004, 0.008; B = 32, 128) are compared with it at the same epochs = the same SDE times,
on the train loss and test accuracy. dt-convergence: the SDE at dt and dt/2 on one Brownian
tree (:func:`sgdsde.studies.dt_halving`).

Run: ``python experiments/adaptive_learned.py [--scale small|full] [--out DIR]``. ``small``
(16 paths, 8 for the dt check) takes about 8 minutes on 2 CPU cores; ``full`` (N = 1000,
width 32, 64 paths) is meant for a GPU.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from _common import parse_args, print_claims, write_outputs

from sgdsde import SDEConfig, learned_surface, load_dataset
from sgdsde.config import checkpoint_steps
from sgdsde.plots import family_figure
from sgdsde.studies import (
    dt_halving,
    family_comparison,
    metric_statistics,
    outside_margin,
    rule_base_run,
    tost,
)

# --- parameters -------------------------------------------------------------------------
BATCH0, EPOCHS, CHECKPOINTS, SEED, ALPHA, MARGIN_FRACTION = 2, 5.0, 5, 0, 0.01, 0.1
KAPPAS = (1, 16, 64)
METRICS = ("train_loss", "test_accuracy")
SCALES = {"small": {"n_train": 500, "width": 16, "paths": 16, "halving_paths": 8,
                    "substeps": 2},
          "full": {"n_train": 1000, "width": 32, "paths": 64, "halving_paths": 32,
                   "substeps": 4}}


def evaluate(name, record, halving):
    """Equivalence at κ = 1 and a gap outside the margin at the largest κ (two one-sided tests
    at α against 10 % of the SDE's progress per metric, as in the rule studies), the resolved
    gap beside it, and dt-convergence."""
    members = {m["kappa"]: m for m in record["members"]}
    margins = {n: MARGIN_FRACTION * abs(record["sde"][n]["mean"][-1] - record["sde"][n]["mean"][0])
               for n in METRICS}
    count = len(METRICS) * (CHECKPOINTS - 1)

    def arrays(member, metric):
        gap = member["gap"][metric]
        return np.asarray(gap["mean"][1:]), np.asarray(gap["stderr"][1:])

    def equivalent(member):
        return all(tost(*arrays(member, n), margins[n], ALPHA).all() for n in METRICS)

    def outside(member):
        return any(outside_margin(*arrays(member, n), margins[n], ALPHA, count).any()
                   for n in METRICS)

    def max_z(member):
        return max(float(np.max(np.abs(d) / s)) for d, s in (arrays(member, n) for n in METRICS))

    small, large = members[1.0], members[float(max(KAPPAS))]
    margin_text = ", ".join(f"{n} {m:.3g}" for n, m in margins.items())
    return [
        {"statement": f"{name}: at ε = {small['lr']:g} (B = {small['batch_size']}) the "
                      "discrete trajectory is equivalent to the SDE's at every checkpoint",
         "held": equivalent(small),
         "measured": f"margins {margin_text}; resolved gap max |gap|/se = "
                     f"{max_z(small):.1f} (final train-loss gap "
                     f"{small['gap']['train_loss']['mean'][-1]:+.4f})"},
        {"statement": f"{name}: at ε = {large['lr']:g} (B = {large['batch_size']}) the gap "
                      "leaves the margin: the SDE no longer describes it",
         "held": outside(large),
         "measured": "max |gap|/se per κ: " + ", ".join(
             f"κ={k:g} {max_z(m):.1f} ({'equivalent' if equivalent(m) else 'outside' if outside(m) else 'inconclusive'})"  # noqa: E501
             for k, m in members.items())},
        {"statement": f"{name}: the SDE is dt-converged (halving dt moves every checkpoint of "
                      "the train loss and test accuracy by less than its standard error)",
         "held": all(abs(s) < e for v in halving.values()
                     for s, e in zip(v["shift"], v["sde_stderr"], strict=True) if e > 0),
         "measured": ", ".join(
             f"{k}: max {max(abs(s) / e for s, e in zip(v['shift'], v['sde_stderr'], strict=True) if e > 0):.2f} se"  # noqa: E501
             for k, v in halving.items())},
    ]


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/adaptive_learned")
    scale = SCALES[args.scale]
    start = time.perf_counter()
    data = load_dataset("mnist1d", n_train=scale["n_train"], n_test=scale["n_train"],
                        seed=SEED)
    surface = learned_surface(data, "mlp", width=scale["width"], seed=SEED)
    statistics = metric_statistics(surface, METRICS)
    records, claims, figures = {}, [], {}
    for optimizer in ("adam", "rmsprop"):
        base = rule_base_run(optimizer, n_train=scale["n_train"], batch_size=BATCH0,
                             epochs=EPOCHS, kappas=KAPPAS, checkpoints=CHECKPOINTS,
                             paths=scale["paths"], seed=SEED)
        record = family_comparison(surface, base, KAPPAS, substeps=scale["substeps"],
                                   checkpoints=CHECKPOINTS)
        halving = dt_halving(surface, dataclasses.replace(base, paths=scale["halving_paths"]),
                             SDEConfig(optimizer, "euler", scale["substeps"]), statistics,
                             save_steps=checkpoint_steps(base.steps, CHECKPOINTS))
        records[optimizer] = {"family": record, "dt_halving": halving}
        claims += evaluate(optimizer, record, halving)
        figures[f"family_{optimizer}"] = family_figure(
            record, title=f"{optimizer} on MNIST-1D: square-root family against one SDE")
        print(f"  {optimizer}: {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    write_outputs(args.out, "adaptive_learned",
                  {"scale": args.scale, "settings": {**scale, "batch0": BATCH0,
                   "epochs": EPOCHS, "kappas": KAPPAS}, "dataset": data.describe(),
                   "results": records, "claims": claims, "wall_seconds": wall}, figures)
    print_claims(claims, wall, args.out)


if __name__ == "__main__":
    main()
