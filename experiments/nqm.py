"""Claim (Zhang et al. 2019; docs/theory.md §8, docs/toolkit.md): on the noisy quadratic model
the expected loss of heavy-ball SGD follows an exact recursion, SGD ensembles match it, and
with ε tuned per B momentum raises the critical batch size — it helps at large B only.

Design. NQM with h_i = 1/i, c_i = σ²h_i (σ² = 100, i.e. batch sizes scaled by 1/100), θ₀,i =
1/√h_i (loss ½ per coordinate), target a tenth of the initial loss. Steps to target at each B
with ε tuned over 40 log-spaced values up to the stability limit, for m = 0 and m = 0.9, by the
exact recursion (:func:`sgdsde.scaling.nqm_critical_batch`), and the same for the first-order
SME and the underdamped SDE solved exactly (so one sees where an SDE's prediction differs from
SGD's). SGD ensembles at the tuned ε of three batch sizes per momentum are checked against the
recursion at 11 checkpoints up to the predicted steps to target
(:func:`sgdsde.studies.nqm_ensemble_check`).

Claims: (1) every ensemble checkpoint within Bonferroni z (family-wise α = 0.01) of the exact
expected loss; (2) B_crit(m = 0.9) ≥ 2·B_crit(m = 0) while momentum saves < 10 % of the steps at
the smallest B (exact); (3) at the smallest B both SDEs predict heavy ball's steps within 10 %,
while somewhere on the grid (where the tuned ε is large, εh_max ≳ 1) the SME misses them by more
than 10 %. (A first version also claimed the underdamped SDE within 10 % at every B; it missed
by 19 % at B = 256 with m = 0.9, so that statement was dropped and the deviation is reported.)

Run: ``python experiments/nqm.py [--scale small|full] [--out DIR]``. ``small`` (default, about
2 minutes on 2 CPU cores): d = 1000; ``full`` (a GPU): d = 10⁴, the paper's size. Writes
``nqm.json``, ``nqm_pareto.png`` and ``nqm_loss.png``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from _common import parse_args, print_claims, write_outputs

from sgdsde import NoisyQuadratic, RunConfig
from sgdsde.config import checkpoint_steps
from sgdsde.plots import nqm_figure, pareto_figure
from sgdsde.scaling import nqm_critical_batch
from sgdsde.studies import nqm_ensemble_check
from sgdsde.theory import NQM_TRANSITIONS
from sgdsde.tour import ALPHA, bonferroni_z

# --- parameters -------------------------------------------------------------------------
POWER, NOISE, TARGET, SEED = 1.0, 100.0, 0.1, 0
MOMENTA = (0.0, 0.9)
CHECKED = (4, 64, 1024)  # batch sizes of the ensemble checks
SCALES: dict[str, dict[str, Any]] = {
    "small": {"dim": 1000, "paths": 400, "max_steps": 200_000,
              "batch_sizes": [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]},
    "full": {"dim": 10_000, "paths": 2000, "max_steps": 2_000_000,
             "batch_sizes": [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144]},
}


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/nqm")
    settings = SCALES[args.scale]
    start = time.perf_counter()
    surface = NoisyQuadratic.power_law(settings["dim"], POWER, NOISE)
    target = TARGET * float(surface.loss(surface.initial_point()))
    curves = {(m, model): nqm_critical_batch(surface, settings["batch_sizes"], target=target,
                                             momentum=m, model=model,
                                             max_steps=settings["max_steps"])
              for m in MOMENTA for model in NQM_TRANSITIONS}
    checks = {}
    for m in MOMENTA:
        curve = curves[(m, "sgd")]
        for size in CHECKED:
            j = curve.batch_sizes.index(size)
            steps = int(curve.best_steps[j])
            run = RunConfig(lr=float(curve.best_lr[j]), momentum=m, batch_size=size,
                            steps=steps, paths=settings["paths"], seed=SEED)
            checks[f"m={m:g}, B={size}"] = nqm_ensemble_check(
                surface, run, save_steps=checkpoint_steps(steps, 11))
    zs = np.array([z for c in checks.values() for z in c["z"] if z is not None
                   and np.isfinite(z)])
    z_bound = bonferroni_z(zs.size)
    plain, heavy = curves[(0.0, "sgd")], curves[(0.9, "sgd")]
    sme, underdamped = curves[(0.9, "sme1")], curves[(0.9, "underdamped")]
    ratio = heavy.fit.b_crit / plain.fit.b_crit
    saving = 1.0 - heavy.best_steps[0] / plain.best_steps[0]
    sme_rel = sme.best_steps / heavy.best_steps - 1.0
    ud_rel = underdamped.best_steps / heavy.best_steps - 1.0
    found = [
        {"statement": "SGD ensembles match the exact expected loss at every checkpoint",
         "measured": f"max |z| = {np.max(np.abs(zs)):.2f} over {zs.size} checkpoints "
                     f"(bound {z_bound:.2f}, α = {ALPHA})",
         "held": bool(np.max(np.abs(zs)) <= z_bound)},
        {"statement": "momentum raises B_crit and helps only at large B",
         "measured": f"B_crit {plain.fit.b_crit:.3g} → {heavy.fit.b_crit:.3g} (×{ratio:.3g}); "
                     f"S_min {plain.fit.s_min:.3g} → {heavy.fit.s_min:.3g}; saving at "
                     f"B = {plain.batch_sizes[0]}: {saving:.1%}",
         "held": bool(ratio >= 2.0 and abs(saving) < 0.1)},
        {"statement": "the SDEs predict heavy ball's steps at small B, the SME not at large ε",
         "measured": f"m=0.9, SDE − SGD relative at B = {plain.batch_sizes[0]}: SME "
                     f"{sme_rel[0]:+.1%}, underdamped {ud_rel[0]:+.1%}; largest |SME − SGD| "
                     f"{np.nanmax(np.abs(sme_rel)):.1%}, underdamped "
                     f"{np.nanmax(np.abs(ud_rel)):.1%}",
         "held": bool(abs(sme_rel[0]) < 0.1 and abs(ud_rel[0]) < 0.1
                      and np.nanmax(np.abs(sme_rel)) > 0.1)},
    ]
    record = {"scale": args.scale, **settings, "power": POWER, "noise": NOISE,
              "target": target, "steps_to_target": {f"m={m:g}, {model}": c.to_dict()
                                                    for (m, model), c in curves.items()},
              "checks": checks, "claims": found, "wall_seconds": time.perf_counter() - start}
    figures = {
        "nqm_pareto": pareto_figure({f"m={m:g}, {model}": c.to_dict()
                                     for (m, model), c in curves.items()},
                                    title=f"NQM d={settings['dim']}: steps and examples to "
                                    f"{TARGET:g}× the initial loss, ε tuned per B"),
        "nqm_loss": nqm_figure({k: v for k, v in checks.items() if "B=64" in k}),
    }
    write_outputs(args.out, "nqm", record, figures)
    for (m, model), curve in curves.items():
        print(f"m={m:g} {model:>11}: S(B) = {np.round(curve.best_steps).tolist()}, B_crit = "
              f"{curve.fit.b_crit:.3g}, S_min = {curve.fit.s_min:.3g}")
    print_claims(found, time.perf_counter() - start, args.out)


if __name__ == "__main__":
    main()
