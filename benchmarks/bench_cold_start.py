"""A sweep from a cold start and with a warm compilation cache, against the same runs trained
one after another in PyTorch (the loop of ``bench_sweep_vs_torch.py``).

1. **cold**: ``sgdsde --compile-cache EMPTY sweep CONFIG --out NEW`` in a new process: the
   process starts, imports JAX, compiles every kernel (storing it in the empty cache), runs
   and writes every batch — what a user meets the first time.
2. **warm**: the same command again, a new process into a new folder, with the cache of (1):
   every kernel is read back instead of compiled.
3. **PyTorch**: every run of CONFIG in this process (data loaded first, not timed), the
   baseline of both ratios.

Wall times are of the whole ``sgdsde`` process (imports included); CPU seconds (user +
system, children included) are printed beside them, since on a shared machine they vary less.
torch is not a dependency of sgdsde: install it to run this (``pip install torch``, in a
separate environment if you like); without it only (1) and (2) are timed.

Run: ``python benchmarks/bench_cold_start.py [experiments/sweeps/small.toml]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_sweep_vs_torch import torch_runs

from sgdsde.scaling import expand, load_config

ROOT = Path(__file__).resolve().parent.parent
DRIVER = "import sys; from sgdsde.cli import app; app(args=sys.argv[1:], prog_name='sgdsde')"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_sweep(config: Path, out: Path, cache: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``sgdsde sweep`` process, and its last lines of stderr."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run([sys.executable, "-c", DRIVER, "--compile-cache", str(cache),
                             "sweep", str(config), "--out", str(out)], capture_output=True,
                            text=True, check=False, env=dict(os.environ, COLUMNS="500"))
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"sgdsde sweep failed:\n{result.stderr}")
    summary = [line for line in result.stderr.splitlines()
               if " batches " in line or "compilation cache" in line]
    return wall, children_cpu() - cpu, "; ".join(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default=ROOT / "experiments/sweeps/small.toml",
                        type=Path)
    parser.add_argument("--skip-torch", action="store_true", help="time sgdsde only")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's, all cores)")
    args = parser.parse_args()
    config, _ = load_config(args.config)
    runs = expand(config)
    folder = Path(tempfile.mkdtemp(prefix="sgdsde-cold-"))
    try:
        cold = time_sweep(args.config, folder / "cold", folder / "cache")
        warm = time_sweep(args.config, folder / "warm", folder / "cache")
    finally:
        shutil.rmtree(folder)
    rows = {"sgdsde sweep, cold (empty cache)": cold[:2],
            "sgdsde sweep, warm cache": warm[:2]}
    baseline = None
    if not args.skip_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: `pip install torch` to time the baseline")
        else:
            if args.torch_threads:
                torch.set_num_threads(args.torch_threads)
            cpu = time.process_time()
            wall, accuracy = torch_runs(config, torch)
            rows[f"PyTorch sequential loop ({torch.get_num_threads()} threads)"] = (
                wall, time.process_time() - cpu)
            baseline = wall
            print(f"torch {torch.__version__}: mean final test accuracy {accuracy:.3f}")
    print(f"{args.config}: {len(runs)} runs, {sum(r.updates for r in runs):,} updates; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'engine':40s} {'wall s':>8s} {'CPU s':>8s} {'runs/s':>8s} {'vs torch':>9s}")
    for name, (wall, cpu) in rows.items():
        ratio = f"{baseline / wall:8.2f}×" if baseline else f"{'-':>9s}"
        print(f"{name:40s} {wall:8.1f} {cpu:8.1f} {len(runs) / wall:8.2f} {ratio}")
    print(f"cold: {cold[2]}\nwarm: {warm[2]}")


if __name__ == "__main__":
    main()
