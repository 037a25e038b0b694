"""The tour's learned-surface section: where the SDE stops describing SGD on MNIST-1D.

Logistic regression and a one-hidden-layer MLP on N MNIST-1D examples, SGD (real minibatches
drawn with replacement) against the first-order SME (Euler–Maruyama, exact state-dependent
noise), same initialisation, same SDE time T, at a fixed noise scale g = εN/B (so every ε
integrates the same SDE; :func:`sgdsde.studies.fixed_noise_comparison`). Claims, at
family-wise α = 0.01 (:data:`sgdsde.tour.ALPHA`):

1. At the small ε both models' final train loss and test accuracy agree within
   ``bonferroni_z(4)`` combined standard errors (2 models × 2 metrics), with the SDE solved at a
   converged step (never dt = ε): halving dt moves each of those SDE numbers, paired on the
   same Brownian paths, by less than the SDE ensemble's own standard error (the shift's
   one-sided bound at α/4; :func:`sgdsde.studies.dt_convergence`).
2. At the large ε the MLP's SGD ends with a higher train loss than its SME by more than the
   one-sided critical value (or SGD diverged): the SDE no longer describes SGD there.

The logistic model at the large ε is reported beside it as the contrast (its surface is nearly
quadratic and well conditioned, so the SDE holds almost up to the stability edge).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..learning import load_dataset
from ..plots import learned_trajectories_figure
from ..studies import FINAL_METRICS, fixed_noise_comparison, gap_z
from ._claims import ALPHA, Claim, bonferroni_z, one_sided_z

MODELS = ("logistic", "mlp")


@dataclasses.dataclass(frozen=True)
class LearnedTourSettings:
    """Sizes of the learned-surface section (defaults: about a minute on 2 CPU cores).

    `lrs` = (small ε, large ε) at the fixed noise scale `noise_scale` = εN/B; `sde_time` is T
    (⌈T/ε⌉ updates); `sde_dt` bounds the SDE step (at most ε/2); `paths` is each ensemble's
    size and `dt_check_paths` the paired paths of the dt-convergence check at the small ε."""

    n_train: int = 1000
    n_test: int = 1000
    width: int = 64
    noise_scale: float = 2.0
    lrs: tuple[float, float] = (0.03, 1.0)
    sde_time: float = 20.0
    sde_dt: float = 0.02
    paths: int = 16
    dt_check_paths: int = 4
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> LearnedTourSettings:
        """Seconds of compute (smoke tests): N = 200, T = 2, 4 paths."""
        small = dict(n_train=200, n_test=200, width=16, sde_time=2.0, sde_dt=0.05, paths=4,
                     lrs=(0.05, 1.0))
        return cls(**{**small, **overrides})


def run_learned_section(
    settings: LearnedTourSettings, on_step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every (model, ε) comparison and the claims, as a JSON-ready record."""
    data = load_dataset("mnist1d", n_train=settings.n_train, n_test=settings.n_test,
                        seed=settings.seed)
    rows = []
    for model in MODELS:
        for lr in settings.lrs:
            if on_step is not None:
                on_step(f"{model}: SGD vs SME at ε={lr}, g={settings.noise_scale}")
            rows.append(fixed_noise_comparison(
                data, model, lr=lr, noise_scale=settings.noise_scale,
                sde_time=settings.sde_time, paths=settings.paths, sde_dt=settings.sde_dt,
                width=settings.width, seed=settings.seed,
                dt_check_paths=settings.dt_check_paths if lr == settings.lrs[0] else None))
    record = {"settings": dataclasses.asdict(settings), "dataset": data.describe(), "rows": rows}
    record["claims"] = [c.to_dict() for c in learned_claims(record)]
    return record


def _row(record: Mapping[str, Any], model: str, lr: float) -> Mapping[str, Any]:
    return next(r for r in record["rows"] if r["model"] == model and r["lr"] == lr)


def learned_claims(record: Mapping[str, Any]) -> list[Claim]:
    """The section's two claims (module docstring) from its record."""
    small, large = record["settings"]["lrs"]
    g = record["settings"]["noise_scale"]
    z_agree = bonferroni_z(len(MODELS) * len(FINAL_METRICS))
    zs = {(m, n): gap_z(_row(record, m, small)["final"][n]["gap"])
          for m in MODELS for n in FINAL_METRICS}
    z_dt = one_sided_z(ALPHA / len(zs))
    shifts = {}
    for m in MODELS:
        row = _row(record, m, small)
        check = row.get("dt_check")
        for n in FINAL_METRICS:
            if check is None:
                shifts[(m, n)] = math.nan
            else:
                bound = abs(check[n]["shift"]) + z_dt * check[n]["stderr"]
                shifts[(m, n)] = bound / row["final"][n]["sde"]["stderr"]
    converged = all(math.isfinite(v) and v < 1 for v in shifts.values())
    agree = Claim(
        name="learned_agreement",
        statement=f"On MNIST-1D at ε={small} (g = εN/B = {g:g}, with replacement) SGD and the "
        "first-order SME agree on the final train loss and test accuracy, for logistic "
        "regression and the MLP",
        predicted=f"every |gap|/se ≤ {z_agree:.2f}, at an SDE step where halving dt moves "
        "the SDE's numbers by less than their standard error",
        measured="|gap|/se: " + ", ".join(f"{m} {n.replace('_', ' ')} {z:.2f}"
                                          for (m, n), z in zs.items())
        + "; dt halved: shift bound / SDE se " + ", ".join(
            f"{m} {n.replace('_', ' ')} {v:.2g}" for (m, n), v in shifts.items()),
        held=bool(converged and all(math.isfinite(z) and z <= z_agree for z in zs.values())),
        test=f"two-sided z of SGD − SME (independent ensembles), Bonferroni over {len(zs)} at "
        f"α={ALPHA}; dt convergence: paired shift + {z_dt:.2f} se < SDE se",
    )
    mlp = _row(record, "mlp", large)
    gap = mlp["final"]["train_loss"]["gap"]
    diverged = mlp["comparison"]["diverged_fraction"]["sgd"] > 0
    z_one = one_sided_z()
    z_mlp = float("inf") if gap["mean"] is None else gap["mean"] / gap["stderr"]
    contrast = _row(record, "logistic", large)["final"]["train_loss"]["gap"]
    breakdown = Claim(
        name="learned_breakdown",
        statement=f"At ε={large} (same g, same SDE) the MLP's SGD ends above its SME: the SDE "
        "stops describing SGD",
        predicted=f"train-loss gap SGD − SME > {z_one:.2f} se (or SGD diverges)",
        measured=("SGD diverged" if gap["mean"] is None else
                  f"gap {gap['mean']:.3g} ± {gap['stderr']:.2g} (z = {z_mlp:.1f})")
        + ("; logistic contrast: SGD diverged" if contrast["mean"] is None else
           f"; logistic contrast {contrast['mean']:.2g} ± {contrast['stderr']:.2g} "
           f"(z = {gap_z(contrast):.1f})"),
        held=bool(diverged or z_mlp > z_one),
        test=f"one-sided z at α={ALPHA}",
    )
    return [agree, breakdown]


def learned_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's table: final metrics of SGD and the SME with the gap per (model, ε)."""
    s = record["settings"]

    def pm(entry: Mapping[str, Any]) -> str:
        if entry["mean"] is None:
            return "diverged"
        return f"{entry['mean']:.4f} ± {entry['stderr']:.4f}"

    lines = [
        f"MNIST-1D, N = {s['n_train']} (test {s['n_test']}), m = 0, minibatches with "
        f"replacement, fixed g = εN/B = {s['noise_scale']:g}, SDE time T = {s['sde_time']:g}, "
        f"{s['paths']} paths per ensemble, MLP width {s['width']}, first-order SME by "
        f"Euler–Maruyama with dt ≤ {s['sde_dt']:g} and at most ε/2. At the small ε, halving "
        "dt on the same Brownian paths moved the SDE's final numbers by: " + "; ".join(
            f"{r['model']} {n.replace('_', ' ')} {r['dt_check'][n]['shift']:+.1e} ± "
            f"{r['dt_check'][n]['stderr']:.1e}" for r in record["rows"] if r.get("dt_check")
            for n in FINAL_METRICS) + ".",
        "",
        "| model | ε | B | updates | train loss SGD | train loss SME | gap | test acc SGD | "
        "test acc SME | gap |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["rows"]:
        f = r["final"]
        cells = [r["model"], f"{r['lr']:g}", str(r["batch_size"]), str(r["steps"])]
        for name in FINAL_METRICS:
            cells += [pm(f[name]["sgd"]), pm(f[name]["sde"]), pm(f[name]["gap"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def learned_figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """Train loss, test loss and accuracy along the run, SGD against SME, for the MLP."""
    figures = {}
    for r in record["rows"]:
        if r["model"] == "mlp":
            title = (f"MLP on MNIST-1D: ε={r['lr']:g}, B={r['batch_size']}, "
                     f"N={r['n_train']}, g={r['g_replacement']:.3g}")
            figures[f"learned_mlp_lr{r['lr']:g}"] = learned_trajectories_figure(
                r["comparison"], title=title)
    return figures
