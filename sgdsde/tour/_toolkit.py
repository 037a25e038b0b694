"""The tour's batch-size toolkit section (docs/theory.md §8, docs/toolkit.md): the gradient
noise scale, the noisy quadratic model and the SVAG validity test. Claims, each at family-wise
α = 0.01 (:data:`sgdsde.tour.ALPHA`):

1. The two-batch estimator (minibatch gradient norms only) recovers the exact tr C and |G|² of
   an MNIST-1D MLP, at its initialisation and after SGD training: |estimate − exact| ≤
   ``bonferroni_z(4)`` standard errors (2 quantities × 2 points).
2. On the NQM the SGD ensemble's mean loss equals heavy ball's exact expected loss at every
   checkpoint, with and without momentum (two-sided z, Bonferroni over the checkpoints).
3. On the NQM momentum raises the critical batch size (Zhang et al. 2019), from the exact
   recursion with ε tuned per B: B_crit(m = 0.9) ≥ 2·B_crit(m = 0), while at the smallest B
   momentum saves less than 10 % of the steps. Exact computation, fixed thresholds.
4. SVAG at the small ε: ℓ = 1 (SGD) and the largest ℓ reach the same final train loss, by two
   one-sided tests against a margin of 2 % of SGD's train-loss decrease (the SDE describes SGD).
5. SVAG at the large ε: SGD (ℓ = 1) ends with a higher train loss than SVAG at the largest ℓ
   by more than the one-sided critical value (the SDE no longer describes SGD there).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..config import RunConfig, checkpoint_steps
from ..learning import load_dataset
from ..plots import noise_scale_figure, nqm_figure, pareto_figure, svag_figure
from ..scaling import nqm_critical_batch
from ..studies import noise_scale_along_training, nqm_ensemble_check, svag_study, tost
from ..surfaces import NoisyQuadratic, learned_surface
from ._claims import ALPHA, Claim, bonferroni_z, one_sided_z

#: B_crit with momentum must be at least this multiple of B_crit without (claim 3).
MOMENTUM_RATIO = 2.0
#: At the smallest B momentum may save at most this fraction of the steps (claim 3).
SMALL_B_SAVING = 0.1
#: The SVAG equivalence margin as a fraction of SGD's train-loss decrease (claim 4).
SVAG_MARGIN = 0.02
MOMENTA = (0.0, 0.9)


@dataclasses.dataclass(frozen=True)
class ToolkitTourSettings:
    """Sizes of the toolkit section (defaults: under a minute on 2 CPU cores).

    Noise scale: an MLP of width `noise_width` on `noise_n_train` MNIST-1D examples trained
    `noise_steps` updates at ε = `noise_lr`, B = `noise_batch`; `pairs` pairs of minibatches of
    sizes `small_batch` < `large_batch`. NQM: `nqm_dim` coordinates, h_i = 1/i^`nqm_power`,
    c_i = `nqm_noise`·h_i, target = `nqm_target` × the initial loss, steps to target at
    `nqm_batch_sizes`; the ensemble check (`nqm_paths` paths) at B = `nqm_check_batch` and
    its tuned ε, up to the predicted steps to target. SVAG: width `svag_width`, `svag_n_train`
    examples, B = `svag_batch`, ε ∈ `svag_lrs`, ℓ ∈ `svag_ells`, SDE time `svag_time`,
    `svag_paths` paths per ensemble, the SME at dt ≤ `svag_dt`."""

    noise_n_train: int = 500
    noise_width: int = 16
    noise_lr: float = 0.1
    noise_batch: int = 16
    noise_steps: int = 300
    small_batch: int = 8
    large_batch: int = 128
    pairs: int = 512
    nqm_dim: int = 1000
    nqm_power: float = 1.0
    nqm_noise: float = 100.0
    nqm_target: float = 0.1
    nqm_batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 256, 1024, 4096, 16384)
    nqm_check_batch: int = 64
    nqm_paths: int = 400
    svag_n_train: int = 500
    svag_width: int = 16
    svag_batch: int = 250
    svag_lrs: tuple[float, float] = (0.1, 1.5)
    svag_ells: tuple[int, ...] = (1, 4)
    svag_time: float = 10.0
    svag_paths: int = 16
    svag_dt: float = 0.02
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> ToolkitTourSettings:
        """Seconds of compute (smoke tests)."""
        small = dict(noise_n_train=100, noise_width=4, noise_steps=20, pairs=64, nqm_dim=50,
                     nqm_batch_sizes=(1, 64, 256, 4096), nqm_paths=200, svag_n_train=100,
                     svag_width=4, svag_batch=50, svag_time=1.0, svag_paths=4, svag_dt=0.25)
        return cls(**{**small, **overrides})


def run_toolkit_section(
    settings: ToolkitTourSettings, on_step: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The noise scale, the NQM and SVAG at the section's sizes.

    **Returns:** the JSON-ready record (with the claims) and the figures by file stem."""
    step = on_step or (lambda _: None)
    s = settings
    step("gradient noise scale: exact against the two-batch estimate")
    data = load_dataset("mnist1d", n_train=s.noise_n_train, n_test=200, seed=s.seed)
    mlp = learned_surface(data, "mlp", width=s.noise_width, seed=s.seed)
    noise = noise_scale_along_training(
        mlp, RunConfig(lr=s.noise_lr, batch_size=s.noise_batch, n_train=s.noise_n_train,
                       steps=s.noise_steps, paths=1, seed=s.seed),
        save_steps=(0, s.noise_steps), small_batch=s.small_batch, large_batch=s.large_batch,
        pairs=s.pairs)
    step("NQM: steps to target against B, with and without momentum")
    nqm = NoisyQuadratic.power_law(s.nqm_dim, s.nqm_power, s.nqm_noise)
    target = s.nqm_target * float(nqm.loss(nqm.initial_point()))
    curves = {m: nqm_critical_batch(nqm, s.nqm_batch_sizes, target=target, momentum=m)
              for m in MOMENTA}
    step(f"NQM: {s.nqm_paths} SGD paths against the exact expected loss")
    checks = {}
    for m, curve in curves.items():
        index = curve.batch_sizes.index(s.nqm_check_batch)
        steps = int(curve.best_steps[index])
        run = RunConfig(lr=float(curve.best_lr[index]), momentum=m,
                        batch_size=s.nqm_check_batch, steps=steps, paths=s.nqm_paths,
                        seed=s.seed)
        checks[f"m={m:g}"] = nqm_ensemble_check(nqm, run, save_steps=checkpoint_steps(steps, 11))
    step(f"SVAG at ε ∈ {list(s.svag_lrs)}, ℓ ∈ {list(s.svag_ells)}, beside the SME")
    svag_data = load_dataset("mnist1d", n_train=s.svag_n_train, n_test=500, seed=s.seed)
    svag = svag_study(learned_surface(svag_data, "mlp", width=s.svag_width, seed=s.seed),
                      s.svag_lrs, s.svag_ells, batch_size=s.svag_batch, sde_time=s.svag_time,
                      paths=s.svag_paths, sde_dt=s.svag_dt, seed=s.seed)
    record = {
        "settings": dataclasses.asdict(settings), "noise_scale": noise,
        "nqm": {"dim": nqm.dim, "initial_loss": float(nqm.loss(nqm.initial_point())),
                "target": target,
                "steps_to_target": {f"m={m:g}": c.to_dict() for m, c in curves.items()},
                "checks": checks},
        "svag": svag,
    }
    record["claims"] = [c.to_dict() for c in toolkit_claims(record)]
    figures = {
        "toolkit_noise_scale": noise_scale_figure(noise),
        "toolkit_nqm_pareto": pareto_figure(
            {f"NQM, m={m:g}": c.to_dict() for m, c in curves.items()},
            title=f"NQM (d={s.nqm_dim}): steps and examples to {s.nqm_target:g}× the "
            "initial loss, ε tuned per B"),
        "toolkit_nqm_loss": nqm_figure(checks),
        "toolkit_svag": svag_figure(svag, "train_loss"),
    }
    return record, figures


def _svag_gap(row: Mapping[str, Any]) -> Mapping[str, float]:
    return row["final_gaps"]["train_loss"]["svag"]


def toolkit_claims(record: Mapping[str, Any]) -> list[Claim]:
    """The section's five claims (module docstring) from its record."""
    return [_noise_claim(record["noise_scale"]), _recursion_claim(record["nqm"]["checks"]),
            _momentum_claim(record["nqm"]["steps_to_target"]), *_svag_claims(record["svag"])]


def _noise_claim(noise: Mapping[str, Any]) -> Claim:
    z_bound = bonferroni_z(4)
    zs, parts = [], []
    for step, exact, estimate in zip(noise["steps"], noise["exact"][0], noise["estimate"][0],
                                     strict=True):
        for name in ("trace_cov", "grad_sq_norm"):
            z = (estimate[name]["value"] - exact[name]) / estimate[name]["stderr"]
            zs.append(z)
        parts.append(f"k={step}: B_simple {estimate['b_simple']['value']:.3g} ± "
                     f"{estimate['b_simple']['stderr']:.2g} vs exact {exact['b_simple']:.3g} "
                     f"(B_noise {exact['b_noise']:.3g})")
    return Claim(
        "noise_scale_estimate", "The two-batch estimator (minibatch gradient norms only) "
        "recovers the exact tr C and |G|² of an MNIST-1D MLP, before and after training",
        f"every |estimate − exact|/se ≤ {z_bound:.2f}",
        "; ".join(parts) + f"; max |z| = {max(abs(z) for z in zs):.2f}",
        bool(all(math.isfinite(z) and abs(z) <= z_bound for z in zs)),
        f"two-sided z over {noise['pairs']} pairs (b={noise['small_batch']}, "
        f"B'={noise['large_batch']}), Bonferroni over 4 at α={ALPHA}")


def _recursion_claim(checks: Mapping[str, Mapping[str, Any]]) -> Claim:
    zs = {label: [z for z in check["z"] if z is not None and math.isfinite(z)]
          for label, check in checks.items()}
    count = sum(len(v) for v in zs.values())
    z_bound = bonferroni_z(count)
    worst = {label: max(abs(z) for z in values) for label, values in zs.items()}
    return Claim(
        "nqm_recursion", "On the NQM the SGD ensemble's mean loss equals heavy ball's exact "
        "expected loss (THEORY §8 recursion) at every checkpoint, with and without momentum",
        f"every |mean − E L|/se ≤ {z_bound:.2f}",
        "; ".join(f"{label} (ε={checks[label]['lr']:.3g}, B={checks[label]['batch_size']}): "
                  f"max |z| = {z:.2f}" for label, z in worst.items()),
        bool(all(len(v) > 0 for v in zs.values()) and max(worst.values()) <= z_bound),
        f"two-sided z over {checks[next(iter(checks))]['paths']} paths, Bonferroni over "
        f"{count} checkpoints at α={ALPHA}")


def _momentum_claim(curves: Mapping[str, Mapping[str, Any]]) -> Claim:
    plain, heavy = curves["m=0"], curves["m=0.9"]
    crit = [c["fit"]["b_crit"] if c["fit"] else math.nan for c in (plain, heavy)]
    saving = 1.0 - heavy["best_steps"][0] / plain["best_steps"][0]
    ratio = crit[1] / crit[0]
    return Claim(
        "nqm_momentum_b_crit", "On the NQM momentum raises the critical batch size and helps "
        "only at large B (Zhang et al. 2019), ε tuned per B",
        f"B_crit(m=0.9) ≥ {MOMENTUM_RATIO:g}·B_crit(m=0); at B={plain['batch_sizes'][0]} "
        f"momentum changes the steps by < {SMALL_B_SAVING:.0%} (either way)",
        f"B_crit {crit[0]:.3g} (m=0) → {crit[1]:.3g} (m=0.9), ratio {ratio:.3g}; S_min "
        f"{plain['fit']['s_min'] if plain['fit'] else math.nan:.3g} → "
        f"{heavy['fit']['s_min'] if heavy['fit'] else math.nan:.3g}; saving at the smallest "
        f"B {saving:.1%}",
        bool(math.isfinite(ratio) and ratio >= MOMENTUM_RATIO
             and abs(saving) < SMALL_B_SAVING),
        "exact recursion (no sampling), fixed thresholds")


def _svag_claims(svag: Mapping[str, Any]) -> list[Claim]:
    small, large = svag["rows"][0], svag["rows"][-1]
    ell = svag["ells"][-1]
    sgd = small["svag"][str(svag["ells"][0])]["train_loss"]["mean"]
    margin = SVAG_MARGIN * (sgd[0] - sgd[-1])
    z = one_sided_z()
    gap = _svag_gap(small)
    upper, lower = gap["mean"] + z * gap["stderr"], gap["mean"] - z * gap["stderr"]
    sde_small = small["final_gaps"]["train_loss"]["sde"]
    agree = Claim(
        "svag_agrees_small_lr", f"SVAG at ε={small['lr']:g}: SGD (ℓ=1) and ℓ={ell} reach the "
        "same train loss, so the SDE describes SGD there",
        f"{1 - 2 * ALPHA:.0%} interval of the gap within ±{margin:.3g} ({SVAG_MARGIN:.0%} of "
        "SGD's train-loss decrease)",
        f"gap {gap['mean']:.3g} ± {gap['stderr']:.2g}, interval [{lower:.3g}, {upper:.3g}]; "
        f"SGD − SME {sde_small['mean']:.3g} ± {sde_small['stderr']:.2g}",
        bool(math.isfinite(upper) and tost(gap["mean"], gap["stderr"], margin, ALPHA)),
        f"two one-sided tests at α={ALPHA} against the margin")
    gap = _svag_gap(large)
    z_large = gap["mean"] / gap["stderr"] if gap["stderr"] else math.nan
    sde_large = large["final_gaps"]["train_loss"]["sde"]
    separate = Claim(
        "svag_separates_large_lr", f"SVAG at ε={large['lr']:g}: SGD (ℓ=1) ends above ℓ={ell} "
        "(and the SME), so the SDE stops describing SGD there",
        f"train-loss gap ℓ=1 − ℓ={ell} > {z:.2f} se",
        f"gap {gap['mean']:.3g} ± {gap['stderr']:.2g} (z = {z_large:.1f}); SGD − SME "
        f"{sde_large['mean']:.3g} ± {sde_large['stderr']:.2g}",
        bool(math.isfinite(z_large) and z_large > z), f"one-sided z at α={ALPHA}")
    return [agree, separate]


def toolkit_markdown(record: Mapping[str, Any]) -> list[str]:
    """The section's tables: the noise scale, steps to target per B and SVAG per (ε, ℓ)."""
    noise, nqm, svag = record["noise_scale"], record["nqm"], record["svag"]
    lines = [f"Gradient noise scale of an MNIST-1D MLP (N = {noise['n_train']}), exact against "
             f"the two-batch estimate ({noise['pairs']} pairs, b = {noise['small_batch']}, "
             f"B' = {noise['large_batch']}):", "",
             "| step | B_simple exact | B_simple estimate | B_noise exact | tr C exact | "
             "tr C estimate |", "| --- | --- | --- | --- | --- | --- |"]
    for step, exact, est in zip(noise["steps"], noise["exact"][0], noise["estimate"][0],
                                strict=True):
        lines.append(f"| {step} | {exact['b_simple']:.4g} | {est['b_simple']['value']:.4g} ± "
                     f"{est['b_simple']['stderr']:.2g} | {exact['b_noise']:.4g} | "
                     f"{exact['trace_cov']:.4g} | {est['trace_cov']['value']:.4g} ± "
                     f"{est['trace_cov']['stderr']:.2g} |")
    lines += ["", f"NQM (d = {record['settings']['nqm_dim']}), steps for E L to reach "
              f"{nqm['target']:.4g} with ε tuned per B (exact recursion):", "",
              "| B | " + " | ".join(f"S, {k} | tuned ε, {k}" for k in nqm["steps_to_target"])
              + " |", "| --- |" + " --- | --- |" * len(nqm["steps_to_target"])]
    curves = list(nqm["steps_to_target"].values())
    for j, size in enumerate(curves[0]["batch_sizes"]):
        cells = [f"{c['best_steps'][j]:.0f} | {c['best_lr'][j]:.3g}"
                 if c["best_steps"][j] is not None and math.isfinite(c["best_steps"][j])
                 else "not reached | –" for c in curves]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    lines += ["", f"SVAG on MNIST-1D (N = {svag['n_train']}, B = {svag['batch_size']}, T = "
              f"{svag['sde_time']:g}), final train loss ± se:", "",
              "| ε | " + " | ".join(f"ℓ = {e}" for e in svag["ells"]) + " | SME |",
              "| --- |" + " --- |" * (len(svag["ells"]) + 1)]
    for row in svag["rows"]:
        cells = [f"{row['svag'][str(e)]['train_loss']['mean'][-1]:.4f} ± "
                 f"{row['svag'][str(e)]['train_loss']['stderr'][-1]:.4f}" for e in svag["ells"]]
        sde = row["sde"]["train_loss"]
        cells.append(f"{sde['mean'][-1]:.4f} ± {sde['stderr'][-1]:.4f}")
        lines.append(f"| {row['lr']:g} | " + " | ".join(cells) + " |")
    return lines + [""]
