"""Would a sweep be faster with more runs per compiled call? The cost of one SGD update per
path against the number of vmapped paths P, on the network of ``experiments/sweeps/small.toml``
(MNIST-1D, N = 512, a width-256 MLP, float32, shuffled epochs).

A sweep batch vmaps the runs that share (N, B, updates): 4 seeds in ``small.toml``, since an
``sde_time`` budget gives each ε its own number of updates. Grouping all 7 ε of one B into one
call (masking each run past its own budget) would vmap 28 paths. That only pays if a loop
iteration is dominated by fixed overhead, i.e. if the cost per path-update falls with P. This
benchmark measures it: ``simulate_sgd`` for ``--steps`` updates at B ∈ ``--batch-sizes``,
P = 4 (the baseline, as in ``small.toml``) and P = 28, timed round-robin, medians; the last
column is the cost per path-update relative to P = 4 at the same B (< 1: batching helps).

Run: ``python benchmarks/bench_sweep_batching.py [--steps 1500 --repeats 3]``.
"""

from __future__ import annotations

import argparse

from _timing import time_round_robin

import sgdsde

PATHS = (4, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = sgdsde.load_dataset("mnist1d", n_train=512, n_test=1000, seed=0)
    surface = sgdsde.learned_surface(data, "mlp", width=256, seed=0)

    def runner(batch_size: int, paths: int):
        run = sgdsde.RunConfig(lr=0.1, batch_size=batch_size, n_train=512, steps=args.steps,
                               paths=paths, seed=0)
        return lambda: sgdsde.simulate_sgd(surface, run,
                                           save_steps=(0, args.steps)).theta.block_until_ready()

    runners = {(b, p): runner(b, p) for b in args.batch_sizes for p in PATHS}
    timings = time_round_robin({f"B={b} P={p}": r for (b, p), r in runners.items()},
                               args.repeats)
    print(f"\n{args.steps} updates, d = {surface.dim}, medians of {args.repeats}")
    print(f"{'B':>4s} {'P':>4s} {'µs / iteration':>15s} {'µs / path-update':>17s} "
          f"{'vs P = 4':>9s}")
    for b in args.batch_sizes:
        base = timings[f"B={b} P={PATHS[0]}"].median / PATHS[0]
        for p in PATHS:
            per_iteration = timings[f"B={b} P={p}"].median / args.steps
            per_path = per_iteration / p
            print(f"{b:4d} {p:4d} {1e6 * per_iteration:15.1f} {1e6 * per_path:17.1f} "
                  f"{per_path * args.steps / base:8.2f}×")


if __name__ == "__main__":
    main()
