"""Claim (Li, Malladi & Arora 2021; docs/theory.md §8, docs/toolkit.md): SVAG tells where an SDE
describes SGD. At a small learning rate SGD (ℓ = 1) and SVAG at ℓ = 2, 4, 8 (ε/ℓ for ℓ× the
updates; same SDE) reach the same test metrics; at a large learning rate the curves separate, and
the package's own SGD–SME gap opens at the same ε.

Design. MNIST-1D (N = 1000), one-hidden-layer MLP, B = 100, minibatches with replacement,
m = 0, the same SDE time T = 10 for every run, independent ensembles per ℓ, and the first-order
SME beside them (Euler–Maruyama at dt ≤ 0.01, exact state-dependent noise; rerun at half that
step at the largest ε to show the SME's numbers are converged in dt)
(:func:`sgdsde.studies.svag_study`).

Claims (family-wise α = 0.01, Bonferroni over the ε of the grid): (1) at the smallest ε the
final train-loss gap ℓ = 1 − ℓ_max is within ±2 % of SGD's train-loss decrease (two one-sided
tests); (2) at the largest ε it is positive beyond the one-sided critical value; the table shows
at which ε the separation appears, beside the SGD–SME gap.

Run: ``python experiments/svag_validity.py [--scale small|full] [--out DIR]``. ``small``
(default, about 4 minutes on 2 CPU cores): width 32, ℓ ≤ 8, 8 paths; ``full`` (a GPU): width
256, ℓ ≤ 16, 32 paths. Writes ``svag_validity.json`` and ``svag_*.png``.
"""

from __future__ import annotations

import time
from typing import Any

from _common import parse_args, print_claims, write_outputs

from sgdsde import learned_surface, load_dataset
from sgdsde.plots import svag_figure
from sgdsde.studies import svag_study, tost
from sgdsde.tour import ALPHA, one_sided_z

# --- parameters -------------------------------------------------------------------------
N_TRAIN, N_TEST, SEED = 1000, 500, 0
BATCH, SDE_TIME, SDE_DT, MARGIN = 100, 10.0, 0.01, 0.02
LRS = (0.05, 0.2, 0.5, 1.0, 2.0)
SCALES: dict[str, dict[str, Any]] = {
    "small": {"width": 32, "ells": [1, 2, 4, 8], "paths": 8},
    "full": {"width": 256, "ells": [1, 2, 4, 8, 16], "paths": 32},
}


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/svag_validity")
    settings = SCALES[args.scale]
    start = time.perf_counter()
    data = load_dataset("mnist1d", n_train=N_TRAIN, n_test=N_TEST, seed=SEED)
    surface = learned_surface(data, "mlp", width=settings["width"], seed=SEED)
    record = svag_study(surface, LRS, settings["ells"], batch_size=BATCH, sde_time=SDE_TIME,
                        paths=settings["paths"], sde_dt=SDE_DT, seed=SEED)
    z = one_sided_z(ALPHA / len(LRS))
    print(f"{'ε':>5} " + " ".join(f"{'ℓ=' + str(e):>16}" for e in settings["ells"])
          + f" {'SME':>16} {'ℓ=1 − ℓmax':>16} {'SGD − SME':>16}   (final train loss)")
    for row in record["rows"]:
        cells = [f"{row['svag'][str(e)]['train_loss']['mean'][-1]:.4f} ± "
                 f"{row['svag'][str(e)]['train_loss']['stderr'][-1]:.4f}"
                 for e in settings["ells"]]
        sde = row["sde"]["train_loss"]
        gaps = row["final_gaps"]["train_loss"]
        print(f"{row['lr']:>5g} " + " ".join(f"{c:>16}" for c in cells)
              + f" {sde['mean'][-1]:.4f} ± {sde['stderr'][-1]:.4f}"
              + "".join(f" {g['mean']:+.4f} ± {g['stderr']:.4f}"
                        for g in (gaps["svag"], gaps["sde"])))
    halved = svag_study(surface, LRS[-1:], [1], batch_size=BATCH, sde_time=SDE_TIME,
                        paths=settings["paths"], sde_dt=SDE_DT / 2, seed=SEED)["rows"][0]["sde"]
    fine, coarse = halved["train_loss"], record["rows"][-1]["sde"]["train_loss"]
    print(f"SME at ε = {LRS[-1]:g}, dt ≤ {SDE_DT:g}: {coarse['mean'][-1]:.4f} ± "
          f"{coarse['stderr'][-1]:.4f}; dt ≤ {SDE_DT / 2:g}: {fine['mean'][-1]:.4f} ± "
          f"{fine['stderr'][-1]:.4f} (independent paths)")
    small, large = record["rows"][0], record["rows"][-1]
    sgd = small["svag"]["1"]["train_loss"]["mean"]
    margin = MARGIN * (sgd[0] - sgd[-1])
    gap = small["final_gaps"]["train_loss"]["svag"]
    interval = (gap["mean"] - z * gap["stderr"], gap["mean"] + z * gap["stderr"])
    far = large["final_gaps"]["train_loss"]["svag"]
    found = [
        {"statement": f"at ε = {small['lr']:g} SGD and SVAG(ℓ = {settings['ells'][-1]}) agree",
         "measured": f"gap {gap['mean']:.3g} ± {gap['stderr']:.2g}, interval "
                     f"[{interval[0]:.3g}, {interval[1]:.3g}] within ±{margin:.3g}",
         "held": bool(tost(gap["mean"], gap["stderr"], margin, ALPHA / len(LRS)))},
        {"statement": f"at ε = {large['lr']:g} SGD ends above SVAG(ℓ = {settings['ells'][-1]})",
         "measured": f"gap {far['mean']:.3g} ± {far['stderr']:.2g} (z = "
                     f"{far['mean'] / far['stderr']:.1f} against {z:.2f})",
         "held": bool(far["mean"] > z * far["stderr"])},
    ]
    record = {"scale": args.scale, **settings, "study": record, "sde_half_dt": halved,
              "claims": found,
              "wall_seconds": time.perf_counter() - start}
    write_outputs(args.out, "svag_validity", record, {
        "svag_train_loss": svag_figure(record["study"], "train_loss"),
        "svag_test_accuracy": svag_figure(record["study"], "test_accuracy")})
    print_claims(found, time.perf_counter() - start, args.out)


if __name__ == "__main__":
    main()
