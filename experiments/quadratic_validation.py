"""Claim: SGD and its SDE models agree with their closed forms on a quadratic, and differ
from each other by the predicted amount (docs/theory.md §2–3).

- Discrete SGD (m = 0 and heavy ball m = 0.9) reaches the discrete Lyapunov covariance; the
  first-order SME and the underdamped SDE reach their continuous Lyapunov covariances, with
  noise not aligned with the curvature.
- The stationary SGD–SDE gap equals its closed form and grows like ε over a decade of ε.
- On a double well (no closed form) the first-order SME's weak error is O(ε) and the
  second-order SME's is O(ε²).

Run: ``python experiments/quadratic_validation.py [--scale small|full] [--out DIR]``.
``small`` (default; two learning rates per scaling study instead of four, smaller coupled
ensembles) takes under a minute on a laptop CPU; ``full`` is the
``sgdsde tour`` run (a few minutes on 2 CPU cores, seconds on a GPU). Writes
``quadratic_validation.json`` (every number behind the claims) and PNG figures to DIR, and
prints one line per claim saying whether it held. All logic lives in :mod:`sgdsde.tour`.
"""

from __future__ import annotations

import time

from _common import parse_args, print_claims, write_outputs

from sgdsde.plots import quadratic_figures
from sgdsde.tour import QuadraticTourSettings, run_quadratic_section

# --- parameters -------------------------------------------------------------------------
HESSIAN_EIGS = (1.0, 0.4, 2.5)  # H = diag(...)
NOISE_EIGS = (1.0, 0.5, 2.0)  # C = R diag(...) Rᵀ, R a Haar rotation (not aligned with H)
LR = 0.1  # ε for plain SGD (m = 0)
MOMENTUM, MOMENTUM_LR = 0.9, 0.02  # heavy ball
GAP_LRS = (0.01, 0.0215, 0.0464, 0.1)  # one decade for the stationary gap
WEAK_LRS = (0.0125, 0.025, 0.05, 0.1)  # the double-well weak error
SEED = 0
SCALES = {
    "full": QuadraticTourSettings(hessian_eigs=HESSIAN_EIGS, noise_eigs=NOISE_EIGS, lr=LR,
                         momentum=MOMENTUM, momentum_lr=MOMENTUM_LR, gap_lrs=GAP_LRS,
                         weak_lrs=WEAK_LRS, seed=SEED),
    "small": QuadraticTourSettings(hessian_eigs=HESSIAN_EIGS, noise_eigs=NOISE_EIGS, lr=LR,
                          momentum=MOMENTUM, momentum_lr=MOMENTUM_LR, gap_lrs=GAP_LRS[::3],
                          weak_lrs=WEAK_LRS[::3], gap_paths=1000, weak_paths=2000,
                          seed=SEED),
}


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/quadratic_validation")
    start = time.perf_counter()
    result = run_quadratic_section(SCALES[args.scale])
    record = {"scale": args.scale, **result.to_dict(), "wall_seconds": time.perf_counter() - start}
    write_outputs(args.out, "quadratic_validation", record, quadratic_figures(record))
    print_claims(record["claims"], record["wall_seconds"], args.out)


if __name__ == "__main__":
    main()
