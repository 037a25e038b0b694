"""The SDE engine: ensembles of an SDE model of SGD integrated with Diffrax.

``diffeqsolve(MultiTerm(ODETerm(drift), ControlTerm(diffusion, W)))`` on the grid
t_j = j·τ/substeps (``StepTo``), saved at the SDE times of the requested SGD steps, with
``throw=False`` so that a diverged path is flagged rather than aborting the ensemble.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from ._types import Flags, Key, Steps, Trajectories, Vector
from .brownian import BrownianSpec, Stream, levy_area_for, path_keys
from .config import RunConfig, SDEConfig, check_compatible, checked_save_steps
from .results import EnsembleRun, diverged_paths, provenance
from .sde_models import SDE_MODEL_CLASSES, SDEModel
from .sgd import check_surface_fits_run
from .surfaces import Surface
from .theory import minibatch_noise_factor

SOLVER_CLASSES: dict[str, type[diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "spark": diffrax.SPaRK,
    "general_shark": diffrax.GeneralShARK,
    "slowrk": diffrax.SlowRK,
    "sra1": diffrax.SRA1,
    "shark": diffrax.ShARK,
    "sea": diffrax.SEA,
}


def brownian_spec(surface: Surface, run: RunConfig, sde: SDEConfig) -> BrownianSpec:
    """The Brownian motion the SDE of (`run`, `sde`) is driven by (and coupled SGD shares)."""
    model = SDE_MODEL_CLASSES[sde.model]()
    tau = float(model.time_per_step(jnp.asarray(run.lr), jnp.asarray(run.momentum)))
    solver = SOLVER_CLASSES[sde.resolved_solver(surface.additive_noise)]()
    return BrownianSpec(
        kind=sde.brownian,
        horizon=tau * run.steps,
        time_per_step=tau,
        substeps=sde.substeps,
        noise_dim=surface.noise_dim,
        levy_area=levy_area_for(solver),
        tol_fraction=sde.tree_tol_fraction,
    )


def simulate_sde(
    surface: Surface,
    run: RunConfig,
    sde: SDEConfig,
    *,
    save_steps: object = None,
    theta0: Vector | None = None,
) -> EnsembleRun:
    """Integrate P = `run.paths` independent paths of the SDE model `sde.model`.

    Outputs are saved at the SDE times τ·k of the SGD steps k in `save_steps`, so they compare
    with :func:`sgdsde.simulate_sgd` step for step. With ``sde.brownian`` "grid" or "tree",
    path i uses the same Brownian motion as coupled SGD path i (same seed).

    **Returns:** an :class:`EnsembleRun` with θ of shape (paths, saves, d).
    """
    steps = checked_save_steps(save_steps, run.steps)
    check_surface_fits_run(surface, run)
    check_compatible(
        run, sde, additive_noise=surface.additive_noise, resampled_noise=surface.resampled_noise
    )
    solver_name = sde.resolved_solver(surface.additive_noise)
    spec = brownian_spec(surface, run, sde)
    start = surface.initial_point() if theta0 is None else jnp.asarray(theta0)
    theta, failed = _sde_ensemble(
        surface,
        SDE_MODEL_CLASSES[sde.model](),
        SOLVER_CLASSES[solver_name](),
        start,
        jnp.asarray(run.lr, start.dtype),
        jnp.asarray(run.momentum, start.dtype),
        jnp.asarray(minibatch_noise_factor(run.batch_size, run.n_train, run.replacement)),
        path_keys(run.seed, run.paths, Stream.BROWNIAN),
        path_keys(run.seed, run.paths, Stream.NOISE_SUBSET),
        jnp.asarray(steps),
        spec=spec,
        n_sgd_steps=run.steps,
        substeps=sde.substeps,
    )
    info = {
        "simulator": "sde",
        "model": sde.model,
        "solver": solver_name,
        "substeps_per_sgd_step": sde.substeps,
        "dt": spec.dt,
        "time_per_sgd_step": spec.time_per_step,
        "brownian": type(spec.path(jax.random.key(0), start.dtype)).__name__,
        "levy_area": spec.levy_area.__name__,
        "config": run,
        "sde_config": sde,
        **provenance(),
    }
    diverged = failed | diverged_paths(theta, run.divergence_bound)
    return EnsembleRun(np.asarray(steps), theta, diverged, info)


@eqx.filter_jit
def _sde_ensemble(
    surface: Surface,
    model: SDEModel,
    solver: diffrax.AbstractSolver,
    theta0: Vector,
    lr: jax.Array,
    momentum: jax.Array,
    noise_factor: jax.Array,
    keys: Key,
    subset_keys: Key,
    save_steps: Steps,
    *,
    spec: BrownianSpec,
    n_sgd_steps: int,
    substeps: int,
) -> tuple[Trajectories, Flags]:
    """θ at the SDE times of `save_steps` for every key, and whether the solver failed."""
    tau = model.time_per_step(lr, momentum)
    n_solver_steps = n_sgd_steps * substeps
    grid = jnp.arange(n_solver_steps + 1, dtype=theta0.dtype) * (tau / substeps)
    y0 = model.initial_state(theta0)
    noise_structure = jax.ShapeDtypeStruct((surface.noise_dim,), theta0.dtype)

    def drift(t, y, args):
        return model.drift(surface, y, lr, momentum)

    # Stochastic Runge-Kutta solvers vmap the diffusion over stage times, which needs an
    # explicit (state x r) matrix; the others apply σ(y) matrix-free, one product per step.
    materialize = isinstance(solver, diffrax.AbstractSRK)

    def diffusion(t, y, args):
        key = args
        if surface.resampled_noise:
            key = jax.random.fold_in(key, jnp.round(t * substeps / tau).astype(jnp.int32))

        def apply(z):
            return model.diffusion(surface, y, z, lr, momentum, noise_factor, key)

        if materialize:
            basis = jnp.eye(surface.noise_dim, dtype=theta0.dtype)
            return lx.MatrixLinearOperator(jax.vmap(apply, out_axes=1)(basis))
        return lx.FunctionLinearOperator(apply, noise_structure)

    def one_path(key: Key, subset_key: Key) -> tuple[Trajectories, jax.Array]:
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(drift),
            diffrax.ControlTerm(diffusion, spec.path(key, theta0.dtype)),
        )
        solution = diffrax.diffeqsolve(
            terms,
            solver,
            t0=grid[0],
            t1=grid[-1],
            dt0=None,
            y0=y0,
            saveat=diffrax.SaveAt(ts=grid[save_steps * substeps]),
            stepsize_controller=diffrax.StepTo(ts=grid),
            adjoint=diffrax.ForwardMode(),
            max_steps=n_solver_steps,
            throw=False,
            args=subset_key if surface.resampled_noise else None,
        )
        return jax.vmap(model.position)(solution.ys), solution.result == diffrax.RESULTS.successful

    theta, succeeded = jax.vmap(one_path)(keys, subset_keys)
    return theta, ~succeeded
