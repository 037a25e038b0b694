"""The tour's batch-size scaling section (docs/theory.md §4): a small sweep, B_opt against ε, the
collapse of test accuracy in g, and "decay ε ≡ grow B".

The sweep is the packaged ``tour/configs/tour_sweep.toml`` (``tour_sweep_quick.toml`` for
smoke runs), run by :func:`sgdsde.scaling.run_sweep` into a folder of the caller's choosing, so an
interrupted tour resumes its sweep where it stopped. Claims, at family-wise α = 0.01:

1. The fitted slope of log B_opt against log ε has a 95 % bootstrap interval containing 1
   (its half-width is reported beside it).
2. Test accuracy collapses in g: the collapse score (between-curve over seed-noise variance,
   :func:`sgdsde.scaling.collapse_in_g`) is below 3 — under collapse it is ≈ χ²_ν/ν with
   ν ≳ 30 effective grid points, so 3 is a > 4σ bound — while the same curves against B
   score above 3.
3. Dividing ε by a factor at set epochs, multiplying B by it, or a hybrid reach the same final
   test accuracy (paired |Δ| ≤ ``bonferroni_z(2)`` standard errors), growing B with fewer
   updates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..learning import load_dataset
from ..plots import scaling_figures
from ..scaling import (
    analyse_sweep,
    compare_schedules,
    parse_text,
    prepare_out,
    read_results,
    run_sweep,
    step_schedules,
)
from ..surfaces import learned_surface
from ._claims import ALPHA, Claim, bonferroni_z

#: Collapse score below which the curves are one function of the x axis (module docstring).
COLLAPSE_BOUND = 3.0


@dataclasses.dataclass(frozen=True)
class ScalingTourSettings:
    """The section's sizes: the packaged sweep config `sweep_config` (a file name in
    ``sgdsde/tour/configs``), `n_boot` bootstrap replicates, and the schedule comparison (MLP width
    `schedule_width` on `schedule_n_train` MNIST-1D examples, start ε `schedule_lr` and B
    `schedule_batch`, `schedule_phases` phases of `schedule_epochs` epochs, factor
    `schedule_factor`, `schedule_runs` paired runs)."""

    sweep_config: str = "tour_sweep.toml"
    n_boot: int = 1000
    schedule_n_train: int = 1000
    schedule_width: int = 64
    schedule_lr: float = 0.2
    schedule_batch: int = 10
    schedule_factor: int = 2
    schedule_epochs: int = 10
    schedule_phases: int = 3
    schedule_runs: int = 8
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> ScalingTourSettings:
        """Seconds of compute (smoke tests)."""
        small = dict(sweep_config="tour_sweep_quick.toml", n_boot=100, schedule_n_train=200,
                     schedule_width=16, schedule_epochs=2, schedule_runs=4)
        return cls(**{**small, **overrides})


def sweep_text(name: str) -> str:
    """The text of a packaged sweep config."""
    return resources.files(__package__).joinpath("configs", name).read_text(encoding="utf-8")


def run_scaling_section(
    settings: ScalingTourSettings, sweep_dir: str | Path,
    on_step: Callable[[str], None] | None = None,
    on_sweep_progress: Callable[[int, int, str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run (or resume) the sweep into `sweep_dir`, analyse it, compare the schedules.

    **Returns:** the JSON-ready record (with the claims) and the figures by file stem."""
    step = on_step or (lambda _: None)
    text = sweep_text(settings.sweep_config)
    config = parse_text(text, settings.sweep_config)
    prepare_out(sweep_dir, config, text)
    step(f"batch-size sweep ({settings.sweep_config})")
    summary = run_sweep(config, sweep_dir, on_progress=on_sweep_progress)
    analysis = analyse_sweep(read_results(sweep_dir), n_boot=settings.n_boot, seed=settings.seed)
    step("decay ε against grow B schedules")
    data = load_dataset("mnist1d", n_train=settings.schedule_n_train, n_test=1000,
                        seed=settings.seed)
    surface = learned_surface(data, "mlp", width=settings.schedule_width, seed=settings.seed)
    schedules = compare_schedules(
        surface, step_schedules(settings.schedule_lr, settings.schedule_batch,
                                settings.schedule_factor, settings.schedule_epochs,
                                settings.schedule_phases),
        runs=settings.schedule_runs, seed=settings.seed)
    record = {
        "settings": dataclasses.asdict(settings), "sweep_config": config.to_dict(),
        "sweep": dataclasses.asdict(summary), "analysis": analysis.to_dict(),
        "schedules": schedules,
    }
    record["claims"] = [c.to_dict() for c in scaling_claims(record)]
    return record, scaling_figures(analysis)


def _number(value: float | None) -> str:
    """A score for display; None (NaN in the record: fewer than two overlapping curves) as n/a."""
    return "n/a" if value is None else f"{value:.3g}"


def scaling_claims(record: Mapping[str, Any]) -> list[Claim]:
    """The section's three claims (module docstring) from its record."""
    analysis = record["analysis"]
    claims = []
    fit = analysis["fits"].get("lr")
    if fit is None:
        why = analysis["fit_errors"].get("lr", "the sweep does not vary ε")
        measured, held = f"no fit: {why}", False
    else:
        half = (fit["ci_high"] - fit["ci_low"]) / 2
        measured = (f"slope {fit['slope']:.2f}, 95 % interval [{fit['ci_low']:.2f}, "
                    f"{fit['ci_high']:.2f}] (half-width {half:.2f}) over {fit['n_slices']} "
                    f"slices, {len(fit['excluded'])} at the grid's edge excluded")
        held = bool(fit["theory_in_interval"])
    claims.append(Claim(
        name="b_opt_vs_lr", statement="The test-accuracy-optimal batch size grows like ε "
        "(B_opt ∝ εN/(1−m))", predicted="slope of log B_opt against log ε = 1",
        measured=measured, held=held,
        test="95 % bootstrap interval over seeds contains 1"))
    in_g, in_b = analysis["collapse"]["score"], analysis["collapse_in_b"]["score"]
    claims.append(Claim(
        name="collapse_in_g", statement="Test accuracy is one function of the noise scale g "
        "across ε (and not of B)",
        predicted=f"collapse score in g < {COLLAPSE_BOUND:g} (seed noise alone gives ≈ 1); "
        f"against B > {COLLAPSE_BOUND:g}",
        measured=f"score {_number(in_g)} in g, {_number(in_b)} in B",
        held=bool(in_g is not None and in_b is not None and in_g < COLLAPSE_BOUND < in_b),
        test="between-curve / seed-noise variance; under collapse ≈ χ²_ν/ν, ν ≳ 30, so 3 is "
        "a > 4σ bound"))
    z = bonferroni_z(2)
    schedules = record["schedules"]
    differences = schedules["differences"]
    updates = {name: s["total_updates"] for name, s in schedules["schedules"].items()}
    agree = all(math.isfinite(d["gap"]) and abs(d["gap"]) <= z * d["stderr"]
                for d in differences.values())
    claims.append(Claim(
        name="decay_lr_equals_grow_b", statement="Decaying ε and growing B by the same factor "
        "at the same epochs (or a hybrid) reach the same test accuracy; growing B takes fewer "
        "updates",
        predicted=f"|Δ final test accuracy| ≤ {z:.2f} paired se; fewer updates",
        measured="; ".join(f"{name}: {d['gap']:+.4f} ± {d['stderr']:.4f}"
                           for name, d in differences.items())
        + f"; updates {updates}",
        held=bool(agree and updates["grow B"] < updates["decay ε"]),
        test=f"paired z over {schedules['runs']} seeds, Bonferroni over 2 at α={ALPHA}"))
    return claims


def scaling_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's tables: B_opt per slice, the fit, the collapse and the schedules."""
    c, a = record["sweep_config"], record["analysis"]
    sweep = record["sweep"]
    lines = [
        f"Sweep: {c['dataset']}, {c['model']} width {c['width']}, N ∈ {c['n_trains']}, "
        f"ε ∈ {c['lrs']}, B ∈ {c['batch_sizes']}, m ∈ {c['momenta']}, seeds {c['seeds']}, "
        f"budget {c['budget_amount']:g} ({c['budget_kind']}); {sweep['total']} runs "
        f"({sweep['diverged']} diverged), {sweep['wall_seconds']:.0f} s.",
        "",
        "| ε | N | m | B_opt | 95 % interval | edge | diverged |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in a["b_opt"]:
        lines.append(f"| {b['lr']:g} | {b['n_train']} | {b['momentum']:g} | {b['b_opt']:.3g} | "
                     f"[{b['ci_low']:.3g}, {b['ci_high']:.3g}] | {b['edge'] or ''} | "
                     f"{b['n_diverged']} |")
    lines += [""]
    for name, fit in a["fits"].items():
        lines.append(f"- log B_opt against log {name}: slope **{fit['slope']:.2f}**, 95 % "
                     f"interval [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}] (theory 1).")
    lines += [f"- collapse score in g {_number(a['collapse']['score'])}, against B "
              f"{_number(a['collapse_in_b']['score'])}.", "",
              "| schedule | updates | test accuracy after each phase | final ± se |",
              "| --- | --- | --- | --- |"]
    for name, s in record["schedules"]["schedules"].items():
        phases = ", ".join(f"{x:.3f}" for x in s["test_accuracy_per_phase"])
        lines.append(f"| {name} | {s['total_updates']} | {phases} | "
                     f"{s['final_test_accuracy']:.4f} ± {s['final_stderr']:.4f} |")
    return lines + [""]
