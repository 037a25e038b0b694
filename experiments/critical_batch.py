"""Claim (McCandlish et al. 2018; docs/theory.md §8, docs/toolkit.md): the steps S and examples
E = S·B to reach a target trade off as S = S_min(1 + B_crit/B), E = E_min(1 + B/B_crit), with
the learning rate tuned per B, and the critical batch size B_crit is close to the gradient noise
scale B_noise measured along training.

Design. Two learned surfaces, MNIST-1D and scikit-learn digits (N = 1000 each, one-hidden-layer
MLP), m = 0, shuffled epochs. For every B of a grid and every ε of a √2-spaced grid, an ensemble
of SGD paths (one initialisation, independent minibatch streams) runs until the training loss
reaches the target; a path's steps are the first crossing (interpolated between geometric
checkpoints), a cell counts when every path got there, S(B) is the best cell over ε
(:func:`sgdsde.scaling.critical_batch_study`). The fit of S(B) is a random-effects weighted
least squares with a bootstrap 95 % interval (:func:`sgdsde.scaling.fit_critical_batch`). Then
one SGD run at the grid's B nearest B_crit, with its tuned ε, is measured at geometric
checkpoints up to the target: the exact B_simple and B_noise (per-example gradients and
Hessian–vector products, :func:`sgdsde.studies.noise_scale_along_training`).

Claims (fixed before running): per surface, (1) the form fits: its relative misfit τ is below
0.25 over a 128-fold range of B; (2) B_noise predicts B_crit within a factor of 3 (geometric
mean of B_noise over the checkpoints of the run up to the target; McCandlish et al. report
agreement to within an order of magnitude across tasks). Also reported: B_simple, the noise
scale g = ε(N/B − 1) at B_crit with the tuned ε (B_crit answers "how large a batch before steps
stop halving", B_opt of Smith & Le "which noise scale generalises best": they need not agree).

Run: ``python experiments/critical_batch.py [--scale small|full] [--out DIR]``. ``small``
(default; about 4 minutes on 2 CPU cores): width 32, 3 paths; ``full`` (a GPU): width 256,
8 paths, a wider grid. Writes ``critical_batch.json`` and ``critical_batch_pareto.png``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from _common import parse_args, print_claims, write_outputs

from sgdsde import RunConfig, learned_surface, load_dataset
from sgdsde.plots import pareto_figure
from sgdsde.scaling import critical_batch_study
from sgdsde.studies import noise_scale_along_training

# --- parameters -------------------------------------------------------------------------
SURFACES = {"mnist1d": 1.6, "digits": 0.15}  # data set: target training loss (from ≈ 2.3)
N_TRAIN, N_TEST, SEED = 1000, 300, 0
LRS = [0.05 * 2 ** (k / 2) for k in range(13)]  # 0.05 … 3.2
MAX_MISFIT, MAX_FACTOR = 0.25, 3.0
SCALES: dict[str, dict[str, Any]] = {
    "small": {"width": 32, "paths": 3, "batch_sizes": [4, 8, 16, 32, 64, 128, 256, 512],
              "max_steps": 4000, "max_examples": 400_000, "checkpoints": 32},
    "full": {"width": 256, "paths": 8, "batch_sizes": [2, 4, 8, 16, 32, 64, 128, 256, 512],
             "max_steps": 20_000, "max_examples": 2_000_000, "checkpoints": 48},
}


def measure(name: str, target: float, settings: dict[str, Any]) -> dict[str, Any]:
    """Steps to target against B, the fit, and the noise scale along a run near B_crit."""
    data = load_dataset(name, n_train=N_TRAIN, n_test=N_TEST, seed=SEED)
    surface = learned_surface(data, "mlp", width=settings["width"], seed=SEED)
    curve = critical_batch_study(
        surface, settings["batch_sizes"], LRS, target=target, max_steps=settings["max_steps"],
        max_examples=settings["max_examples"], paths=settings["paths"],
        checkpoints=settings["checkpoints"], seed=SEED)
    record: dict[str, Any] = {"dataset": data.describe(), "dim": surface.dim, "target": target,
                              "steps_to_target": curve.to_dict()}
    if curve.fit is None:
        return record
    sizes = np.asarray(curve.batch_sizes)
    reached = np.isfinite(curve.best_steps)
    index = int(np.argmin(np.where(reached, np.abs(np.log(sizes / curve.fit.b_crit)), np.inf)))
    size, lr, steps = int(sizes[index]), float(curve.best_lr[index]), curve.best_steps[index]
    saves = sorted({0, *(int(k) for k in np.geomspace(1, steps, 5).round())})
    noise = noise_scale_along_training(
        surface, RunConfig(lr=lr, batch_size=size, n_train=N_TRAIN, steps=int(saves[-1]),
                           paths=1, seed=SEED),
        save_steps=saves, small_batch=8, large_batch=128, pairs=64)
    b_noise = np.array([p["b_noise"] for p in noise["exact"][0]])
    b_simple = np.array([p["b_simple"] for p in noise["exact"][0]])
    positive = b_noise[b_noise > 0]
    mean_noise = float(np.exp(np.mean(np.log(positive)))) if positive.size else math.nan
    record.update(
        noise_scale=noise, reference_batch=size, reference_lr=lr,
        b_noise_geometric_mean=mean_noise,
        b_simple_geometric_mean=float(np.exp(np.mean(np.log(b_simple)))),
        b_crit_over_b_noise=curve.fit.b_crit / mean_noise,
        g_at_b_crit=lr * (N_TRAIN / curve.fit.b_crit - 1.0))
    return record


def claims(name: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    fit = record["steps_to_target"]["fit"]
    if fit is None:
        return [{"statement": f"{name}: the S–E form fits", "measured": "fewer than three "
                 "batch sizes reached the target", "held": False}]
    ratio = record["b_crit_over_b_noise"]
    return [
        {"statement": f"{name}: S = S_min(1 + B_crit/B) fits steps to target (τ < "
                      f"{MAX_MISFIT:g})",
         "measured": f"B_crit = {fit['b_crit']:.3g} [{fit['b_crit_interval'][0]:.3g}, "
                     f"{fit['b_crit_interval'][1]:.3g}], S_min = {fit['s_min']:.3g}, τ = "
                     f"{fit['misfit']:.3f}",
         "held": fit["misfit"] < MAX_MISFIT},
        {"statement": f"{name}: B_noise along training predicts B_crit within ×{MAX_FACTOR:g}",
         "measured": f"B_noise (geometric mean) {record['b_noise_geometric_mean']:.3g}, "
                     f"B_simple {record['b_simple_geometric_mean']:.3g}, B_crit/B_noise "
                     f"{ratio:.3g}; g at B_crit {record['g_at_b_crit']:.3g}",
         "held": bool(math.isfinite(ratio) and abs(math.log(ratio)) <= math.log(MAX_FACTOR))},
    ]


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/critical_batch")
    settings = SCALES[args.scale]
    start = time.perf_counter()
    records = {name: measure(name, target, settings) for name, target in SURFACES.items()}
    found = [c for name, record in records.items() for c in claims(name, record)]
    record = {"scale": args.scale, **settings, "lrs": LRS, "surfaces": records,
              "claims": found, "wall_seconds": time.perf_counter() - start}
    figure = pareto_figure(
        {f"{name} (target {target:g})": records[name]["steps_to_target"]
         for name, target in SURFACES.items()},
        title="Steps and examples to a training-loss target, ε tuned per B (MLP, N = 1000)")
    write_outputs(args.out, "critical_batch", record, {"critical_batch_pareto": figure})
    print_claims(found, time.perf_counter() - start, args.out)


if __name__ == "__main__":
    main()
