"""The tour's batch-size scaling section (docs/theory.md §4, §7): a small sweep, B_opt against
ε with its exact prediction, the collapse of test accuracy in g, and "decay ε ≡ grow B".

The sweep is the packaged ``tour/configs/tour_sweep.toml`` (``tour_sweep_quick.toml`` for
smoke runs) with seeds ks … ks + k − 1 for the tour's seed s, k = 8 the file's seed count (so
every tour seed is an independent sweep), run by :func:`sgdsde.scaling.run_sweep` into a folder
of the caller's choosing, so an interrupted tour resumes its sweep where it stopped. Claims, at
family-wise α = 0.01:

1. B_opt follows the exact prediction εN/(ε + g_opt(1 − m)) with one g_opt for every slice
   (Monte Carlo goodness of fit, p > α/2), and the fitted ε slope equals the slope that
   prediction implies (below 1; not "slope 1", its B ≪ N limit) within ±0.25 — half the
   distance to the square-root law — by two one-sided tests at α/2. The intervals' coverage,
   measured by simulation from the sweep's own noise, is reported beside them.
2. Test accuracy is one function of g across ε, and not of B, as an equivalence: the spread
   between the curves in g is below the margin (one run's seed-to-seed standard deviation: what
   rerunning with another seed does) at one-sided level α/2, and the spread against B is above
   it at α/2.
3. Dividing ε by a factor at set epochs, multiplying B by it, or a hybrid reach the same final
   test accuracy, as an equivalence: each paired difference's TOST bound at α/2 (Bonferroni
   over the two comparisons) is below the margin δ = one run's seed-to-seed standard deviation
   of the decaying schedule (a difference smaller than what rerunning with another seed does);
   and growing B takes fewer updates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..compare import equivalence_bound
from ..learning import load_dataset
from ..plots import scaling_figures
from ..scaling import (
    SweepConfig,
    analyse_sweep,
    compare_schedules,
    parse_text,
    prepare_out,
    read_results,
    run_sweep,
    step_schedules,
)
from ..surfaces import learned_surface
from ._claims import ALPHA, Claim


@dataclasses.dataclass(frozen=True)
class ScalingTourSettings:
    """The section's sizes: the packaged sweep config `sweep_config` (a file name in
    ``sgdsde/tour/configs``), `n_boot` Monte Carlo replicates of the analysis (synthetic
    sweeps for the goodness of fit and the coverage, permutations of the collapse), and the
    schedule comparison (MLP width
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


def tour_sweep(settings: ScalingTourSettings) -> SweepConfig:
    """The packaged sweep with the seeds of the tour's seed s: ks, ks + 1, …, ks + k − 1 (k as
    many as the packaged config has)."""
    config = parse_text(sweep_text(settings.sweep_config), settings.sweep_config)
    count = len(config.seeds)
    return dataclasses.replace(config, seeds=tuple(range(count * settings.seed,
                                                         count * (settings.seed + 1))))


def run_scaling_section(
    settings: ScalingTourSettings, sweep_dir: str | Path,
    on_step: Callable[[str], None] | None = None,
    on_sweep_progress: Callable[[int, int, str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run (or resume) the sweep into `sweep_dir`, analyse it, compare the schedules.

    **Returns:** the JSON-ready record (with the claims) and the figures by file stem."""
    step = on_step or (lambda _: None)
    config = tour_sweep(settings)
    prepare_out(sweep_dir, config, config.to_toml())
    step(f"batch-size sweep ({settings.sweep_config}, seeds {list(config.seeds)})")
    summary = run_sweep(config, sweep_dir, on_progress=on_sweep_progress)
    step("B_opt, g_opt, the laws and the collapse (with their Monte Carlo calibration)")
    analysis = analyse_sweep(read_results(sweep_dir), replicates=settings.n_boot,
                             seed=settings.seed, alpha=ALPHA / 2)
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


def _number(value: float | None, digits: int = 3) -> str:
    """A number for display; None (NaN in the record) as n/a."""
    return "n/a" if value is None else f"{value:.{digits}g}"


#: How each scaling variable reads in a claim.
_LAW_NAMES = {"lr": ("ε", "B_opt ∝ ε"), "n_train": ("N", "B_opt ∝ N"),
              "inv_one_minus_m": ("1/(1−m)", "B_opt ∝ 1/(1−m)")}


#: Equivalence margin of a law's slope: half the distance from the linear law to the
#: square-root law (slope 0.5), so a confirmed slope tells the two apart.
SLOPE_MARGIN = 0.25


def law_claim(analysis: Mapping[str, Any], variable: str = "lr") -> Claim:
    """The law of `variable` (``"lr"``, ``"n_train"`` or ``"inv_one_minus_m"``) from a
    :meth:`SweepAnalysis.to_dict` record, confirmed as an equivalence: B_opt follows
    εN/(ε + g_opt(1−m)) with one g_opt (the Monte Carlo goodness of fit passes at α/2), and
    the fitted slope equals the slope that prediction implies within :data:`SLOPE_MARGIN`
    (two one-sided jackknife-t tests at α/2; Bonferroni over the two, α = ALPHA). A slope too
    uncertain to tell the linear law from the square-root law is not a confirmation."""
    symbol, law = _LAW_NAMES[variable]
    g, fit = analysis["g_opt"], analysis["fits"].get(variable)
    statement = (f"The test-accuracy-optimal batch size follows B_opt = εN/(ε + g_opt(1−m)) "
                 f"with one g_opt across {symbol} (so {law} up to the N/B − 1 correction)")
    if g is None or fit is None:
        why = analysis["errors"].get("g_opt") or analysis["errors"].get(
            variable, f"the sweep does not vary {symbol}")
        return Claim(f"b_opt_vs_{variable}", statement, "a located B_opt per slice",
                     f"no fit: {why}", False, "goodness of fit and slope equivalence")
    bound = equivalence_bound(fit["slope"] - fit["predicted_slope"], fit["slope_se"],
                              fit["n_seeds"] - 1, ALPHA / 2)
    coverage = analysis["coverage"]["rates"] if analysis["coverage"] else {}
    measured_cov = ", ".join(f"{k} {v['rate']:.1%}" for k, v in coverage.items())
    return Claim(
        name=f"b_opt_vs_{variable}", statement=statement,
        predicted=f"goodness of fit p > {ALPHA / 2:g}; slope of ln B_opt against ln {symbol} "
        f"within ±{SLOPE_MARGIN:g} of {fit['predicted_slope']:.3f}, the slope at the fitted "
        "g_opt (1 only as B ≪ N)",
        measured=f"g_opt = {g['g_opt']:.3g} [{g['ci_low']:.3g}, {g['ci_high']:.3g}], "
        f"p = {g['p_value']:.2g}; slope {fit['slope']:.3f} ± {fit['slope_se']:.3f} "
        f"(|slope − predicted| bound {bound:.3f}) over {fit['n_slices']} slices "
        f"({len(fit['excluded'])} not located, excluded); measured coverage of the 95 % "
        f"intervals at {fit['n_seeds']} seeds: {measured_cov or 'n/a'}",
        held=bool(g["p_value"] > ALPHA / 2 and bound < SLOPE_MARGIN),
        test=f"Monte Carlo goodness of fit ({g['replicates']} synthetic sweeps with the sweep's "
        f"own noise) at {ALPHA / 2:g}; two one-sided jackknife-t tests of the slope against "
        f"±{SLOPE_MARGIN:g} at {ALPHA / 2:g} (Bonferroni over the two, α={ALPHA})")


def _collapse_claim(analysis: Mapping[str, Any]) -> Claim:
    # the bounds and verdicts of collapse_in_g at α/2 (run_scaling_section)
    in_g, in_b = analysis["collapse"], analysis["collapse_in_b"]
    g_high, b_low, margin = in_g["spread_high"], in_b["spread_low"], in_g["margin"]
    return Claim(
        name="collapse_in_g", statement="Test accuracy is one function of the noise scale g "
        "across ε (and not of B)",
        predicted=f"spread between the ε curves in g < margin {_number(margin)} (one run's "
        "seed-to-seed sd); against B > the same margin",
        measured=f"spread in g {_number(in_g['spread'])} (upper bound {_number(g_high)}), "
        f"against B {_number(in_b['spread'])} (lower bound {_number(b_low)}); score "
        f"{_number(in_g['score'])} in g (permutation null {_number(in_g['permutation_mean'])})"
        f", {_number(in_b['score'])} in B",
        held=bool(in_g["collapsed"] and in_b["separated"]),
        test=f"equivalence: one-sided jackknife Student-t bounds over {in_g['n_seeds']} seeds "
        f"at {ALPHA / 2:g} each (α={ALPHA})")


def _schedule_claim(schedules: Mapping[str, Any]) -> Claim:
    reference = next(iter(schedules["schedules"].values()))
    margin = reference["final_sd"]
    bounds = {name: equivalence_bound(d["gap"], d["stderr"], d["pairs"] - 1, ALPHA / 2)
              for name, d in schedules["differences"].items()}
    updates = {name: s["total_updates"] for name, s in schedules["schedules"].items()}
    equivalent = all(math.isfinite(b) and b < margin for b in bounds.values())
    return Claim(
        name="decay_lr_equals_grow_b", statement="Decaying ε and growing B by the same factor "
        "at the same epochs (or a hybrid) reach the same test accuracy; growing B takes fewer "
        "updates",
        predicted=f"each |Δ final test accuracy| below the margin {margin:.4f} (one run's "
        "seed-to-seed sd) with its TOST bound; fewer updates",
        measured="; ".join(f"{name}: {d['gap']:+.4f} ± {d['stderr']:.4f} (bound "
                           f"{bounds[name]:.4f})" for name, d in
                           schedules["differences"].items())
        + f"; updates {updates}",
        held=bool(equivalent and updates["grow B"] < updates["decay ε"]),
        test=f"two one-sided paired t-tests over {schedules['runs']} seeds at {ALPHA / 2:g} "
        f"each (Bonferroni over 2, α={ALPHA})")


def scaling_claims(record: Mapping[str, Any]) -> list[Claim]:
    """The section's three claims (module docstring) from its record."""
    analysis = record["analysis"]
    return [law_claim(analysis), _collapse_claim(analysis),
            _schedule_claim(record["schedules"])]


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
        "| ε | N | m | B_opt | 95 % interval | status | diverged |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in a["b_opt"]:
        lines.append(f"| {b['lr']:g} | {b['n_train']} | {b['momentum']:g} | {b['b_opt']:.3g} | "
                     f"[{b['ci_low']:.3g}, {b['ci_high']:.3g}] | {b['status']} | "
                     f"{b['n_diverged']} |")
    lines += [""]
    if a["g_opt"] is not None:
        g = a["g_opt"]
        lines.append(f"- g_opt = **{g['g_opt']:.3g}** [{g['ci_low']:.3g}, {g['ci_high']:.3g}]; "
                     f"B_opt = εN/(ε + g_opt(1−m)) goodness of fit p = {g['p_value']:.2g}.")
    for name, fit in a["fits"].items():
        lines.append(f"- ln B_opt against ln {name}: slope **{fit['slope']:.3f}**, 95 % "
                     f"interval [{fit['ci_low']:.3f}, {fit['ci_high']:.3f}]; predicted "
                     f"{_number(fit['predicted_slope'])} (1 only as B ≪ N).")
    if a["coverage"] is not None:
        lines.append("- measured coverage of the 95 % intervals: " + ", ".join(
            f"{k} {v['rate']:.1%} ± {v['stderr']:.1%}" for k, v in a["coverage"]["rates"].items())
            + f" ({a['coverage']['replicates']} synthetic sweeps at "
            f"{a['coverage']['n_seeds']} seeds).")
    lines += [f"- spread between curves in g {_number(a['collapse']['spread'])}, against B "
              f"{_number(a['collapse_in_b']['spread'])}, margin "
              f"{_number(a['collapse']['margin'])}; scores {_number(a['collapse']['score'])} "
              f"and {_number(a['collapse_in_b']['score'])}.", "",
              "| schedule | updates | test accuracy after each phase | final ± se |",
              "| --- | --- | --- | --- |"]
    for name, s in record["schedules"]["schedules"].items():
        phases = ", ".join(f"{x:.3f}" for x in s["test_accuracy_per_phase"])
        lines.append(f"| {name} | {s['total_updates']} | {phases} | "
                     f"{s['final_test_accuracy']:.4f} ± {s['final_stderr']:.4f} |")
    return lines + [""]
