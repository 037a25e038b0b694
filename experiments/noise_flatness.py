"""Claim (docs/theory.md §5, Smith & Le 2018): SGD noise drives training to flatter minima, so
the end points of runs at a larger noise scale g = ε(N/B − 1) have a smaller Hessian (and,
where the Laplace evidence is defined, a larger Occam factor).

Design. One-hidden-layer MLP (width 16 small / 64 full) on MNIST-1D (N = 500 / 2,000), plain
SGD at ε = 0.1 with shuffled epochs, the same SDE time (= updates at this fixed ε) at every
batch size — the clock in which the runs differ only in their noise (see
sgdsde.evidence.flatness_study for why not equal epochs) — several seeds from one
initialisation; the end points' train loss is reported as their training progress. At each
end point the exact Hessian of the summed cost
C = N·mean NLL + (λ/2)‖θ‖², λ = 1, gives tr ∇∇C and, only where ∇∇C ≻ 0, ln det ∇∇C and a local
Laplace evidence ratio (SGD end points are not exact minima; this is said beside every number).

Claim line: "larger g gave flatter minima" holds when the Hessian trace decreases from the
smallest to the largest g by more than z·(combined standard error), z = 3.

Run: ``python experiments/noise_flatness.py [--scale small|full] [--out DIR]`` (small: under a
minute on 2 CPU cores). Writes ``flatness.json`` and ``flatness.png``.
"""

from __future__ import annotations

import time

import jax

jax.config.update("jax_enable_x64", True)

from _common import parse_args, write_outputs  # noqa: E402

from sgdsde import load_dataset  # noqa: E402
from sgdsde.evidence import flatness_study, trace_drop  # noqa: E402
from sgdsde.plots import flatness_figure  # noqa: E402

SCALES = {
    "small": dict(n_train=500, width=16, batch_sizes=[5, 25, 125], sde_time=200.0, seeds=4),
    "full": dict(n_train=2000, width=64, batch_sizes=[4, 16, 64, 256, 1000], sde_time=1000.0,
                 seeds=8),
}
LR, PRIOR_PRECISION, Z = 0.1, 1.0, 3.0


def main() -> None:
    args = parse_args(__doc__, SCALES, "results/noise_flatness")
    settings = SCALES[args.scale]
    start = time.perf_counter()
    dataset = load_dataset("mnist1d", n_train=settings["n_train"], n_test=1000, seed=0)
    points = flatness_study(dataset, settings["batch_sizes"], lr=LR, sde_time=settings["sde_time"],
                            seeds=settings["seeds"], width=settings["width"],
                            prior_precision=PRIOR_PRECISION)
    summaries = [p.summary() for p in points]
    drop, combined = trace_drop(summaries)
    held = drop > Z * combined
    record = {"scale": args.scale, "lr": LR, "prior_precision": PRIOR_PRECISION, **settings,
              "points": summaries, "trace_drop": drop, "trace_drop_stderr": combined,
              "claim_held": held, "wall_seconds": time.perf_counter() - start}
    write_outputs(args.out, "flatness", record,
                  {"flatness": flatness_figure(summaries, "SGD noise and flatness (MNIST-1D MLP)")})
    for s in summaries:
        print(f"g = {s['noise_scale']:7.3f} (B = {s['batch_size']:4d}, {s['epochs']:g} epochs): "
              f"train loss {s['train_loss']['mean']:.3f}, test acc "
              f"{s['test_accuracy']['mean']:.3f} ± {s['test_accuracy']['stderr']:.3f}, "
              f"tr ∇∇C = {s['hessian_trace']['mean']:.4g} ± {s['hessian_trace']['stderr']:.2g}, "
              f"positive definite {s['positive_definite_fraction']:.0%}")
    verdict = "held" if held else "did not hold"
    print(f"claim 'larger g gave flatter minima' {verdict}: the trace falls by {drop:.4g} ± "
          f"{combined:.2g} from g = {summaries[-1]['noise_scale']:.3g} to "
          f"{summaries[0]['noise_scale']:.3g}")


if __name__ == "__main__":
    main()
