"""RMSprop and Adam against their SDEs (docs/adaptive.md §2–3, §6).

The adaptive SDEs have coefficients σ₀ = ε√f, c = (1−β)/ε², ε·δ, ν₀/f that the square-root rule
leaves unchanged, so the square-root family of a base run (κ = 1, 2, 4, …: ε = √κ·ε₀, B = κB₀)
is a family of discrete processes approximating ONE SDE over one horizon T = K₀ε₀², and the
gap between each member and the SDE is its weak error at learning rate ε.

:func:`adaptive_weak_error` measures that gap on a surface with Gaussian noise, coupling each
member to its SDE through one Brownian path per ensemble member (common random numbers), for
the statistics θ_i, ‖θ − θ₀‖² and L(θ) at the horizon, and fits its order in ε.
:func:`dt_halving` checks that an SDE number is dt-converged: the SDE is integrated at dt and
dt/2 on one Brownian path (a virtual Brownian tree, the same path at every resolution), and the
paired shift is compared with the ensemble's standard error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..compare import difference_estimate, finite_paths, mean_estimate
from ..config import RunConfig, SDEConfig, checkpoint_steps
from ..rules import scaled_run
from ..sde import setup_sde, simulate_sde
from ..sgd import simulate_sgd
from ..surfaces import Surface
from ._dt import Statistic
from ._gap_scaling import fit_power_law
from ._rule import check_equal_epochs, listed, trajectory_metrics


def weak_statistics(surface: Surface) -> dict[str, Statistic]:
    """Test functions g(θ) of the weak error: each coordinate θ_i, ‖θ‖² (the package's weak-gap
    statistic, :func:`sgdsde.studies.weak_gap_scaling`) and L(θ)."""
    statistics: dict[str, Statistic] = {
        f"theta_{i}": (lambda theta, i=i: theta[i]) for i in range(surface.dim)}
    statistics["norm2"] = lambda theta: jnp.sum(theta**2)
    statistics["loss"] = surface.loss
    return statistics


def _evaluate(statistics: dict[str, Statistic], theta: jax.Array) -> dict[str, jax.Array]:
    return {name: jax.vmap(g)(theta) for name, g in statistics.items()}


@dataclasses.dataclass(frozen=True)
class AdaptiveWeakError:
    """Weak error of the members of a square-root family against their one SDE: per member
    (learning rate) and statistic the discrete mean, the SDE mean and the paired gap
    (discrete − SDE) ± stderr, and per statistic the fitted order p of |gap| ∝ ε^p."""

    optimizer: str
    model: str
    horizon: float
    substeps: int
    members: list[dict[str, Any]]
    fits: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return dataclasses.asdict(self)


def adaptive_weak_error(
    surface: Surface, base: RunConfig, kappas: Sequence[float], *, theta0: jax.Array,
    substeps: int = 4, fit_from: int = 0,
) -> AdaptiveWeakError:
    """The square-root family of `base` (κ = 1 is `base`), each member coupled to its SDE
    (``SDEConfig(model=optimizer, solver="euler", brownian="grid")``, `substeps` per step), from
    `theta0` to the common horizon T = base.steps·ε₀². Fits use members `fit_from` onwards in
    ε order (the smallest ε first) whose gap is resolved (|gap| > 2 se); a statistic with
    fewer than two resolved members gets no fit."""
    theta0 = jnp.asarray(theta0)
    statistics = weak_statistics(surface)
    members = []
    for kappa in sorted({1.0, *map(float, kappas)}):
        run = scaled_run(base, "sqrt", kappa)
        sde = SDEConfig(model=run.optimizer.name, solver="euler", substeps=substeps,
                        brownian="grid")
        setup = setup_sde(surface, run, sde)
        discrete = simulate_sgd(surface, run, save_steps=(run.steps,), theta0=theta0,
                                coupling=setup.brownian)
        continuous = simulate_sde(surface, run, setup, save_steps=(run.steps,), theta0=theta0)
        disc_final, sde_final = finite_paths(discrete, continuous)
        disc_values, sde_values = (_evaluate(statistics, x) for x in (disc_final, sde_final))
        entry: dict[str, Any] = {"kappa": kappa, "lr": run.lr, "batch_size": run.batch_size,
                                 "steps": run.steps, "optimizer": run.optimizer.hyperparameters(),
                                 "finite_paths": int(disc_final.shape[0])}
        for name in statistics:
            gap = difference_estimate(disc_values[name], sde_values[name], paired=True)
            d_mean, s_mean = mean_estimate(disc_values[name]), mean_estimate(sde_values[name])
            entry[name] = {"discrete": float(d_mean.value), "discrete_stderr": float(d_mean.stderr),
                           "sde": float(s_mean.value), "sde_stderr": float(s_mean.stderr),
                           "gap": float(gap.value), "gap_stderr": float(gap.stderr)}
        members.append(entry)
    fits = {}
    for name in statistics:
        used = [m for m in members[fit_from:] if abs(m[name]["gap"]) > 2 * m[name]["gap_stderr"]]
        if len(used) >= 2:
            slope, slope_se, intercept = fit_power_law(
                np.array([m["lr"] for m in used]), np.array([m[name]["gap"] for m in used]),
                np.array([m[name]["gap_stderr"] for m in used]))
            fits[name] = {"order": slope, "order_stderr": slope_se, "intercept": intercept,
                          "points": len(used)}
    return AdaptiveWeakError(base.optimizer.name, base.optimizer.name,
                             base.steps * base.lr**2, substeps, members, fits)


def family_comparison(
    surface: Surface, base: RunConfig, kappas: Sequence[float], *, substeps: int,
    checkpoints: int = 5,
) -> dict[str, Any]:
    """Members of the square-root family of `base` against their one SDE, on any surface
    (real minibatches on a learned one), at the same epochs = the same SDE times.

    The SDE (``model=optimizer``, Euler, dt = ε₀²/`substeps`, independent Brownian paths) is
    integrated once, on the base run's grid; each member κ (ε = √κ·ε₀, B = κB₀) is an
    independent discrete ensemble (seed + index). Returns a JSON-ready record: the SDE's
    metric trajectories, and per member the discrete ones, the gap (discrete − SDE) ± stderr
    and the diverged fraction."""
    values = sorted({1.0, *map(float, kappas)})
    check_equal_epochs(base.steps, values, checkpoints)
    sde = simulate_sde(surface, base, SDEConfig(model=base.optimizer.name, solver="euler",
                                                substeps=substeps),
                       save_steps=checkpoint_steps(base.steps, checkpoints))
    sde_metrics = trajectory_metrics(surface, sde.theta[~np.asarray(sde.diverged)])
    members = []
    for index, kappa in enumerate(values):
        run = dataclasses.replace(scaled_run(base, "sqrt", kappa), seed=base.seed + index)
        discrete = simulate_sgd(surface, run,
                                save_steps=checkpoint_steps(run.steps, checkpoints))
        metrics = trajectory_metrics(surface, discrete.theta[~np.asarray(discrete.diverged)])
        gaps = {name: difference_estimate(metrics[name], sde_metrics[name], paired=False)
                for name in metrics}
        members.append({
            "kappa": kappa, "lr": run.lr, "batch_size": run.batch_size, "steps": run.steps,
            "optimizer": run.optimizer.hyperparameters(),
            "diverged_fraction": discrete.diverged_fraction,
            "discrete": {name: listed(mean_estimate(v)) for name, v in metrics.items()},
            "gap": {name: listed(g) for name, g in gaps.items()},
        })
    return {"optimizer": base.optimizer.name, "sde_time": base.steps * base.lr**2,
            "sde_dt": base.lr**2 / substeps, "substeps": substeps,
            "progress": [i / (checkpoints - 1) for i in range(checkpoints)],
            "sde": {name: listed(mean_estimate(v)) for name, v in sde_metrics.items()},
            "sde_diverged_fraction": sde.diverged_fraction, "members": members}
