"""Claim (docs/theory.md §4, Smith, Kindermans, Ying & Le 2018): decaying the learning rate by α at
given epochs and growing the batch size by α at the same epochs (or a hybrid) reach the same
test accuracy for the same number of epochs, the growing-batch schedule with fewer updates,
while B ≪ N.

Design. MNIST-1D, one-hidden-layer MLP (width 64 small / 800 full), plain SGD with shuffled
epochs, 3 phases of equal length (10 epochs small / 30 full), α = 2, start ε = 0.2, B = 10, so
B ≤ 40 ≪ N = 1000 (small) / N = 10,000 (full). Runs are paired across schedules (same seeds,
same first phase), so differences use the paired standard error.

Claim lines: "decay ε ≡ grow B" and "decay ε ≡ hybrid" hold when |Δ final test accuracy| <
3 paired standard errors; "grow B uses fewer updates" when its update count is smaller.

Run: ``python experiments/schedule_equivalence.py [--scale small|full] [--out DIR]`` (small:
under a minute on 2 CPU cores). Writes ``schedules.json``.
"""

from __future__ import annotations

from _common import parse_args, write_outputs

from sgdsde import learned_surface, load_dataset
from sgdsde.scaling import compare_schedules, step_schedules

SCALES = {"small": dict(n_train=1000, width=64, epochs=10, runs=8),
          "full": dict(n_train=10_000, width=800, epochs=30, runs=16)}
LR, BATCH, ALPHA, Z = 0.2, 10, 2, 3.0


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/schedule_equivalence")
    settings = SCALES[args.scale]
    dataset = load_dataset("mnist1d", n_train=settings["n_train"], n_test=1000, seed=0)
    surface = learned_surface(dataset, "mlp", width=settings["width"])
    compared = compare_schedules(surface, step_schedules(LR, BATCH, ALPHA, settings["epochs"]),
                                 runs=settings["runs"])
    record = {"scale": args.scale, **settings, **compared}
    for name, result in compared["schedules"].items():
        print(f"{name:8s}: {result['total_updates']:6d} updates, final test accuracy "
              f"{result['final_test_accuracy']:.4f} ± {result['final_stderr']:.4f}")
    for name, gap in compared["differences"].items():
        held = abs(gap["gap"]) < Z * gap["stderr"]
        print(f"claim '{name.replace(' − ', ' ≡ ')}' {'held' if held else 'did not hold'}: "
              f"Δ accuracy {gap['gap']:+.4f} ± {gap['stderr']:.4f} (paired)")
    updates = {name: r["total_updates"] for name, r in compared["schedules"].items()}
    fewer = updates["grow B"] < updates["decay ε"]
    record["grow_b_fewer_updates"] = fewer
    print(f"claim 'grow B uses fewer updates' {'held' if fewer else 'did not hold'}: "
          f"{updates['grow B']} vs {updates['decay ε']}")
    write_outputs(args.out, "schedules", record)


if __name__ == "__main__":
    main()
