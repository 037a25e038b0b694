"""Claim (docs/theory.md §4, Smith & Le 2018): at a fixed training budget in SDE time, test
accuracy of minibatch SGD peaks at an optimum batch size B_opt, and B_opt ∝ εN/(1 − m), i.e.
the optimum sits at a fixed noise scale g = ε(N/B − 1)/(1 − m). Three laws: the slope of
log B_opt against log ε, log N and log 1/(1 − m) is 1, and accuracy curves of different ε (N, m)
collapse onto one curve in g.

Design. Real minibatch-SGD training runs through the library's sweep runner
(``sgdsde.sweep``), one sweep per law, then ``sgdsde.scaling``: B_opt per (ε, N, m) slice
from a quadratic in log B around the best grid point with a bootstrap over seeds, the
log–log slope with a 95 % bootstrap interval (slices whose optimum is at the edge of the B
grid are excluded and listed), and the collapse score in g (≈ 1 or below: the curves agree
up to seed noise; ≫ 1: they do not).

A peak in B needs the overfitting regime: the network must be able to memorise its training
set within the budget, so that small noise (large B) overfits while large noise (small B)
fails to fit. ``small`` (CPU): MNIST-1D, an MLP with 256 hidden units, N = 512, SDE-time
budget updates·ε/(1 − m) = 300, no weight decay; the sweeps are experiments/sweeps/small.toml
(ε law, m = 0), n_train.toml (N law, ε = 0.4) and momentum.toml (1/(1 − m) law, ε = 0.1).
At this budget N = 2048 is not memorised, so the N law is tested where the regime is only
partly reached (Smith & Le also saw B_opt ∝ N only at large N). ``full`` (a GPU): the
published set-up, an 800-unit MLP, m = 0.9, ε up to 1, B 1..1000, N = 1000 (N up to 20,000
for the N law), a budget of 10,000 updates at ε = 1, m = 0.9; MNIST-1D unless ``--mnist-idx``
names a folder with the four MNIST IDX files.

Claim lines, per law: "slope interval contains 1", "interval half-width < 0.4" and
"collapse in g" (score < COLLAPSE_MAX).

Run: ``python experiments/batch_size_scaling.py [--scale small|full] [--law lr|n_train|
momentum|all] [--out DIR]``. ``small`` takes about 2–3 min (ε law), 5 min (N law) and 1.5 min
(momentum law) on 2 CPU cores. Sweeps are resumable: a rerun with the same --out skips
finished runs. Writes DIR/<law>/ (the runs), DIR/figures/*.png and DIR/batch_size_scaling.json
(every number).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

from sgdsde import write_json
from sgdsde.plots import save_figure, scaling_figures
from sgdsde.scaling import analyse_sweep, parse_text, prepare_out, read_results, run_sweep
from sgdsde.tour import COLLAPSE_BOUND as COLLAPSE_MAX  # χ² bound, see its module

# --- parameters -------------------------------------------------------------------------
SWEEPS = Path(__file__).resolve().parent / "sweeps"
LAWS = {  # law -> (fit variable, column that varies, TOML of the small scale)
    "lr": ("lr", "lr", "small.toml"),
    "n_train": ("n_train", "n_train", "n_train.toml"),
    "momentum": ("inv_one_minus_m", "momentum", "momentum.toml"),
}
METRIC = "final_test_accuracy"
N_BOOT = 1000
SEED = 0
MAX_HALF_WIDTH = 0.4

_FULL_BASE: dict[str, Any] = {
    "data": {"dataset": "mnist1d", "n_test": 2000, "seed": 0},
    "model": {"name": "mlp", "width": 800, "l2": 0.0},
    "grid": {"lrs": [1.0], "batch_sizes": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
             "momenta": [0.9], "n_trains": [1000], "seeds": [0, 1, 2, 3, 4],
             "replacement": False},
    # 10,000 updates at ε = 1, m = 0.9: updates = amount·(1 − m)/ε
    "budget": {"kind": "sde_time", "amount": 100_000.0},
    "eval": {"checkpoints": 11},
}
FULL: dict[str, dict[str, Any]] = {
    "lr": {"grid": {"lrs": [0.125, 0.25, 0.5, 1.0]}},
    "n_train": {"grid": {"n_trains": [1250, 2500, 5000, 10_000, 20_000],
                         "batch_sizes": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
                         "seeds": [0, 1, 2]}},
    "momentum": {"grid": {"momenta": [0.8, 0.9, 0.95, 0.975]}},
}


def full_config(law: str, mnist_idx: Path | None) -> dict[str, Any]:
    raw = copy.deepcopy(_FULL_BASE)
    for section, values in FULL[law].items():
        raw[section].update(values)
    if mnist_idx is not None:
        raw["data"].update(dataset="mnist", idx_dir=str(mnist_idx))
    return raw


def toml_text(raw: dict[str, Any]) -> str:
    """A config dict as TOML text (JSON scalars and lists are valid TOML values)."""
    return "\n".join(f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n"
                                                 for k, v in keys.items())
                     for section, keys in raw.items())


def run_law(law: str, text: str, out: Path, figures: Path) -> dict[str, Any]:
    variable = LAWS[law][0]
    config = parse_text(text, law)
    folder = out / law
    prepare_out(folder, config, text)
    summary = run_sweep(config, folder)
    analysis = analyse_sweep(read_results(folder), METRIC, n_boot=N_BOOT, seed=SEED)
    for stem, figure in scaling_figures(analysis).items():
        save_figure(figure, figures / f"{law}_{stem}.png")
    fit = analysis.fits.get(variable)
    fit_error = analysis.fit_errors.get(variable)
    collapse = analysis.collapse
    half = None if fit is None else fit.interval_width / 2
    claims = {
        "slope interval contains 1": {
            "held": fit is not None and fit.theory_in_interval,
            "detail": fit_error or f"slope {fit.slope:.2f}, 95% interval "
                                   f"[{fit.ci_low:.2f}, {fit.ci_high:.2f}] over "
                                   f"{fit.x.size} slices ({len(fit.excluded)} excluded)"},
        f"interval half-width < {MAX_HALF_WIDTH}": {
            "held": half is not None and half < MAX_HALF_WIDTH,
            "detail": fit_error or f"half-width {half:.2f}"},
        "collapse in g": {
            "held": collapse.score < COLLAPSE_MAX < analysis.collapse_in_b.score,
            "detail": f"score {collapse.score:.2f} in g, {analysis.collapse_in_b.score:.2f} "
                      f"in B (curves by {collapse.by}; between/within seed variance, "
                      f"< {COLLAPSE_MAX:g} counts as collapsed)"},
    }
    return {"config": config.to_dict(), "sweep": vars(summary), **analysis.to_dict(),
            "claims": claims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "full"), default="small")
    parser.add_argument("--law", choices=(*LAWS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=Path("results/batch_size_scaling"))
    parser.add_argument("--mnist-idx", type=Path, default=None,
                        help="full scale: a folder with the MNIST IDX files (default MNIST-1D)")
    args = parser.parse_args()
    laws = list(LAWS) if args.law == "all" else [args.law]
    figures = args.out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"scale": args.scale, "metric": METRIC, "laws": {}}
    for law in laws:
        text = ((SWEEPS / LAWS[law][2]).read_text() if args.scale == "small"
                else toml_text(full_config(law, args.mnist_idx)))
        start = time.perf_counter()
        result = run_law(law, text, args.out, figures)
        result["wall_seconds"] = time.perf_counter() - start
        record["laws"][law] = result
        sweep = result["sweep"]
        print(f"{law} law: {sweep['total']} runs ({sweep['skipped']} already done, "
              f"{sweep['diverged']} diverged), sweep {sweep['wall_seconds']:.0f} s")
        for b in result["b_opt"]:
            print(f"  ε={b['lr']:g} N={b['n_train']} m={b['momentum']:g}: B_opt "
                  f"{b['b_opt']:.3g} [{b['ci_low']:.3g}, {b['ci_high']:.3g}]"
                  + (f" (at the {b['edge']} edge)" if b["edge"] else ""))
        for claim, outcome in result["claims"].items():
            print(f"[{'HELD' if outcome['held'] else 'FAILED'}] {claim} ({law} law): "
                  f"{outcome['detail']}")
    path = args.out / "batch_size_scaling.json"
    write_json(path, record, indent=1)
    print(f"wrote {path} and figures in {figures}")


if __name__ == "__main__":
    main()
