"""Sweep engine against a straightforward sequential PyTorch training loop (issue: B_opt sweeps).

Both train the same grid of runs on the same data (MNIST-1D, an MLP, plain or heavy-ball SGD
with shuffled epochs, a fixed number of updates, test accuracy at the end): sgdsde through
``run_sweep`` (runs sharing shapes vmapped in one compiled call, results written to Parquet),
PyTorch one run after another with ``torch.optim.SGD`` on the CPU, as a researcher would write
it. Reported: wall time of each (sgdsde including compilation and file output, with no
persistent compilation cache: a cold start; a second sgdsde pass over a fresh folder shows the
cost without compilation) and the ratio. Both use all cores of the machine. torch is not a
dependency of sgdsde: install it to run this (``pip install torch``); without it the script
says so and exits. :func:`torch_runs` is the baseline of ``bench_cold_start.py`` too.

Run: ``python benchmarks/bench_sweep_vs_torch.py [--seeds 4] [--updates 500]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("EQX_ON_ERROR", "nan")

import numpy as np  # noqa: E402

from sgdsde.learning import load_dataset  # noqa: E402
from sgdsde.scaling import SweepConfig, expand, parse_config, prepare_out, run_sweep  # noqa: E402


def sweep_config(args: argparse.Namespace) -> dict:
    return {
        "data": {"dataset": "mnist1d", "n_test": 1000, "seed": 0},
        "model": {"name": "mlp", "width": args.width},
        "grid": {"lrs": args.lrs, "batch_sizes": args.batch_sizes, "momenta": [args.momentum],
                 "n_trains": [args.n_train], "seeds": list(range(args.seeds))},
        "budget": {"kind": "updates", "amount": args.updates},
        "eval": {"checkpoints": 2},
    }


def time_sgdsde(raw: dict) -> tuple[float, int]:
    """Wall time of one full sweep into a fresh folder, and the number of runs."""
    config = parse_config(raw)
    with tempfile.TemporaryDirectory() as folder:
        prepare_out(folder, config, repr(raw))
        start = time.perf_counter()
        summary = run_sweep(config, folder)
        return time.perf_counter() - start, summary.ran


def torch_runs(config: SweepConfig, torch) -> tuple[float, float]:
    """Wall time of every run of `config` trained one after another in PyTorch (the same
    model, updates and shuffled epochs without replacement, ⌊N/B⌋ batches each), and their
    mean final test accuracy (a sanity check that both learn)."""
    data = {}
    for n_train in config.n_trains:
        d = load_dataset(config.dataset, n_train=n_train, n_test=config.n_test,
                         classes=config.classes, seed=config.data_seed)
        data[n_train] = [torch.tensor(np.asarray(a)) for a in (d.x_train, d.x_test)] + [
            torch.tensor(np.asarray(a)).long() for a in (d.y_train, d.y_test)]
    accuracies = []
    start = time.perf_counter()
    for run in expand(config):
        x, x_test, y, y_test = data[run.n_train]
        classes = int(y.max()) + 1
        torch.manual_seed(run.seed)
        if config.model == "mlp":
            model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], config.width),
                                        torch.nn.ReLU(), torch.nn.Linear(config.width, classes))
        else:
            model = torch.nn.Linear(x.shape[1], classes)
        optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum,
                                    weight_decay=config.l2)
        per_epoch, order = run.n_train // run.batch_size, None
        for step in range(run.updates):
            if step % per_epoch == 0:
                order = torch.randperm(run.n_train)
            position = step % per_epoch
            index = order[position * run.batch_size:(position + 1) * run.batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            predicted = model(x_test).argmax(1)
            accuracies.append(float((predicted == y_test).float().mean()))
    return time.perf_counter() - start, float(np.mean(accuracies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's, all cores); 1 is "
                        "faster for these small models on a busy machine")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed: `pip install torch` to run this benchmark")
        return
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    raw = sweep_config(args)
    first, runs = time_sgdsde(raw)
    second, _ = time_sgdsde(raw)
    torch_time, torch_accuracy = torch_runs(parse_config(raw), torch)
    print(f"{runs} runs × {args.updates} updates, MLP width {args.width}, N = {args.n_train}, "
          f"B ∈ {args.batch_sizes}, ε ∈ {args.lrs}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'engine':40s} {'wall s':>8s} {'runs/s':>8s} {'vs torch':>9s}")
    for name, seconds in (("sgdsde sweep (cold, incl. compilation)", first),
                          ("sgdsde sweep (second pass)", second),
                          ("PyTorch sequential loop", torch_time)):
        print(f"{name:40s} {seconds:8.2f} {runs / seconds:8.2f} {torch_time / seconds:8.2f}×")
    print(f"PyTorch mean final test accuracy {torch_accuracy:.3f} (sanity check: it learns)")


if __name__ == "__main__":
    main()
