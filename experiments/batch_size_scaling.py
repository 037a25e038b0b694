"""Claim (docs/theory.md §4, §7; Smith & Le 2018): at a fixed training budget in SDE time, test
accuracy of minibatch SGD peaks at an optimum batch size B_opt, and the optimum sits at one
noise scale g_opt: B_opt = εN/(ε + g_opt(1 − m)) — so B_opt grows like ε, N and 1/(1 − m),
with the slopes that curve implies (exactly 1 for N, slightly below 1 for ε and 1/(1 − m)).

For each law (``--law lr|n_train|momentum|all``) the script runs its sweeps (resumable), fits
one g_opt and tests the exact prediction (Monte Carlo goodness of fit), fits the slope with a
jackknife Student-t interval beside its predicted slope, measures the intervals' coverage by
simulation from the sweep's own noise, and prints one line per claim. Scales:

- ``tiny``: seconds, for the test suite (tiny grids of the small sweeps; the claims mean
  nothing there);
- ``small`` (default): the CPU sweeps of ``experiments/sweeps/`` — ``small.toml`` (ε),
  ``momentum.toml`` (1/(1 − m)), ``n_train.toml`` (N = 512 … 8192: where g_opt drifts) and
  ``n_train_large.toml`` (N = 2048 … 16384, fresh seeds: where it has stopped drifting);
- ``full``: the published scale, for a GPU (``paper_*.toml``: an 800-unit MLP, m = 0.9,
  N up to 20,000, B from 1 to 1,000, ~10⁴ updates), sized to finish in under 8 minutes on
  one H200.

Writes DIR/<sweep>/ (the runs), DIR/figures/, DIR/batch_size_scaling.json (every number) and
DIR/summary.md (the table, with the command, date, device and versions).
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from _common import parse_args, print_claims, write_outputs

from sgdsde import write_text
from sgdsde.plots import accuracy_vs_batch_figure, save_figure, scaling_figures
from sgdsde.scaling import (
    VARIED,
    SweepConfig,
    analyse_sweep,
    load_config,
    locate_b_opt,
    prepare_out,
    read_results,
    run_sweep,
)
from sgdsde.tour import environment, law_claim

# --- parameters -------------------------------------------------------------------------
SWEEPS = Path(__file__).resolve().parent / "sweeps"
#: law → (the fit variable, the sweep files of each scale)
LAWS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "lr": ("lr", {"small": ("small.toml",), "full": ("paper_lr.toml",)}),
    "n_train": ("n_train", {"small": ("n_train.toml", "n_train_large.toml"),
                            "full": ("paper_n_train.toml",)}),
    "momentum": ("inv_one_minus_m", {"small": ("momentum.toml",),
                                     "full": ("paper_momentum.toml",)}),
}
SCALES = ("tiny", "small", "full")
METRIC = "final_test_accuracy"
REPLICATES = {"tiny": 50, "small": 1000, "full": 1000}
SEED = 0


def tiny(config: SweepConfig) -> SweepConfig:
    """A seconds-long version of a small sweep: 2 values of the varied variable, 5 batch sizes,
    2 seeds, a width-8 network, 40 updates."""
    return dataclasses.replace(
        config, lrs=config.lrs[:2], momenta=config.momenta[:2],
        n_trains=tuple(sorted(config.n_trains)[:2]), batch_sizes=config.batch_sizes[:5],
        seeds=config.seeds[:2], width=8, budget_kind="updates", budget_amount=40.0,
        checkpoints=2)


def sweeps(law: str, scale: str) -> list[tuple[str, SweepConfig]]:
    """(name, config) of the sweeps of a law at a scale."""
    files = LAWS[law][1]["full" if scale == "full" else "small"]
    configs = [(Path(f).stem, load_config(SWEEPS / f)[0]) for f in files]
    return [(name, tiny(c) if scale == "tiny" else c) for name, c in configs]


def run_law(law: str, scale: str, out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run and analyse every sweep of a law: per sweep its record (config, sweep summary,
    analysis, claim), and the figures by file stem."""
    variable = LAWS[law][0]
    records, figures = [], {}
    for name, config in sweeps(law, scale):
        folder = out / name
        prepare_out(folder, config, config.to_toml())
        start = time.perf_counter()
        summary = run_sweep(config, folder)
        table = read_results(folder)
        analysis = analyse_sweep(table, METRIC, replicates=REPLICATES[scale], seed=SEED)
        record = analysis.to_dict()
        claim = law_claim(record, variable).to_dict()
        claim["statement"] = f"[{name}] {claim['statement']}"
        records.append({"sweep": name, "config": config.to_dict(),
                        "summary": dataclasses.asdict(summary), "analysis": record,
                        "claim": claim, "wall_seconds": time.perf_counter() - start})
        figures.update({f"{name}_{stem}": fig for stem, fig in scaling_figures(analysis).items()})
        # memorisation: the peak in B needs the large-B runs to (over)fit the training set
        figures[f"{name}_train_accuracy_vs_b"] = accuracy_vs_batch_figure(
            locate_b_opt(table, "final_train_accuracy"), "final train accuracy against B "
            "(a peak of test accuracy in B needs the large-B runs to memorise)",
            mark_optimum=False)
    return records, figures


def summary_markdown(records: list[dict[str, Any]], scale: str, env: dict[str, str],
                     device: str) -> str:
    """The table of every sweep's law, labelled with how and where it was produced."""
    lines = [f"# Batch-size scaling laws ({scale} scale)", "",
             f"Produced by `python {' '.join(sys.argv)}` on {datetime.date.today()} on "
             f"`{device}`; " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", "",
             "| sweep | law | slope [95 %] | predicted | g_opt [95 %] | fit p | coverage "
             "(b_opt, slope, g_opt) | held |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        a, claim = r["analysis"], r["claim"]
        fit = next(iter(a["fits"].values()), None)
        g = a["g_opt"]
        rates = (a["coverage"] or {}).get("rates", {})
        cells = [r["sweep"], claim["name"].removeprefix("b_opt_vs_"),
                 "n/a" if fit is None else
                 f"{fit['slope']:.3f} [{fit['ci_low']:.3f}, {fit['ci_high']:.3f}]",
                 "n/a" if fit is None else f"{fit['predicted_slope']:.3f}",
                 "n/a" if g is None else f"{g['g_opt']:.3g} [{g['ci_low']:.3g}, "
                 f"{g['ci_high']:.3g}]", "n/a" if g is None else f"{g['p_value']:.2g}",
                 ", ".join(f"{v['rate']:.1%}" for v in rates.values()) or "n/a",
                 "yes" if claim["held"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/batch_size_scaling",
                      extra=((("--law",), {"choices": (*LAWS, "all"), "default": "all"}),))
    laws = list(LAWS) if args.law == "all" else [args.law]
    start = time.perf_counter()
    records, figures = [], {}
    for law in laws:
        found, drawn = run_law(law, args.scale, args.out)
        records += found
        figures.update(drawn)
        for r in found:
            print(f"{r['sweep']}: {r['summary']['total']} runs ({r['summary']['skipped']} "
                  f"already done, {r['summary']['diverged']} diverged), "
                  f"{r['wall_seconds']:.0f} s", flush=True)
    device = next((row["device"] for row in read_results(args.out / records[0]["sweep"])
                   .to_pylist()), "unknown")
    env = environment()
    record = {"scale": args.scale, "metric": METRIC, "varied": VARIED, "sweeps": records,
              "device": device, "environment": env,
              "wall_seconds": time.perf_counter() - start}
    write_outputs(args.out, "batch_size_scaling", record)
    (args.out / "figures").mkdir(exist_ok=True)
    for stem, figure in figures.items():
        save_figure(figure, args.out / "figures" / f"{stem}.png")
    write_text(args.out / "summary.md", summary_markdown(records, args.scale, env, device))
    print_claims([r["claim"] for r in records], record["wall_seconds"], args.out)


if __name__ == "__main__":
    main()
