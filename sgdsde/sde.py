"""The SDE engine: ensembles of an SDE model of SGD integrated with Diffrax.

``diffeqsolve(MultiTerm(ODETerm(drift), ControlTerm(diffusion, W)))`` on the grid
t_j = j·τ/substeps (``StepTo``), saved at the SDE times of the requested SGD steps, with
``throw=False`` so that a diverged path is flagged rather than aborting the ensemble.

:func:`setup_sde` turns an :class:`~sgdsde.config.SDEConfig` (or a model object or name) into
an :class:`SDESetup` — the model, the solver and the Brownian motion — checking once, before
anything is compiled, that the choices fit the surface and the run; :func:`simulate_sde`
accepts either.
"""

from __future__ import annotations

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from ._types import Flags, Key, Steps, Trajectories, Vector
from .brownian import BrownianSpec, Stream, levy_area_for, path_keys
from .config import RunConfig, SDEConfig, check_surface_fits_run, checked_save_steps
from .errors import IncompatibleChoiceError
from .results import EnsembleRun, diverged_paths, provenance
from .sde_models import SDEModel, sde_model
from .solvers import is_stratonovich, make_solver, needs_additive_noise
from .surface import Surface


def check_compatible(
    run: RunConfig, sde: SDEConfig, *, additive_noise: bool, resampled_noise: bool = False
) -> None:
    """Reject SDE choices that cannot describe this run, before any compilation, from the
    structure the model, the solver and the surface declare:

    - a model derived for plain SGD only (``plain_sgd_only``: the second-order SME) needs m = 0;
    - a solver valid for additive noise only (Diffrax's tableau says ``is_additive_noise``)
      needs a surface whose noise does not depend on θ;
    - a Stratonovich solver converges to a different SDE than the Itô model unless the model's
      noise is commutative (``commutative_noise``) or additive;
    - noise whose factor is redrawn every step (a random data subset) is unbiased only when the
      diffusion is evaluated once per step: Euler;
    - a model describes one optimiser (``approximates``), which must be the run's, and a model
      whose drift needs diag C(θ) (``exact_noise_only``) needs the exact noise factor;
    - a model whose diffusion depends on its own state (``multiplicative_noise``, RMSprop's
      P(u)⁻¹) is not additive on any surface;
    - the model's own checks of the run's hyper-parameters (:meth:`SDEModel.bind`, e.g. the
      RMSprop SDE needs ν₀ > 0 or bias correction).
    """
    model = sde.sde_model
    if model.approximates != run.optimizer.name:
        suggestion = ("'sme1', 'sme2' or 'underdamped'" if run.optimizer.name == "sgd"
                      else repr(run.optimizer.name))
        raise IncompatibleChoiceError(
            f"model={model.name!r} is the SDE of optax.{model.approximates}, but the run uses "
            f"optimizer={run.optimizer.name!r}; use model={suggestion}",
            names=("model", "optimizer"))
    if model.exact_noise_only and resampled_noise:
        raise IncompatibleChoiceError(
            f"model={model.name!r} needs diag C(θ) in its drift, which a random-subset noise "
            "factor (noise_subset) cannot give; build the surface without noise_subset",
            names=("model", "noise_subset"))
    additive_noise = additive_noise and not model.multiplicative_noise
    if model.plain_sgd_only and run.momentum != 0.0:
        raise IncompatibleChoiceError(
            f"model={model.name!r} is derived for plain SGD and needs momentum=0, got "
            f"momentum={run.momentum}; use model='sme1' or 'underdamped' for heavy ball"
        )
    solver = sde.resolved_solver(additive_noise)
    if resampled_noise and solver != "euler":
        raise IncompatibleChoiceError(
            f"solver={solver!r} evaluates the diffusion more than once per step, but this "
            "surface redraws its noise factor (a random data subset) every step; use 'euler'"
        )
    if needs_additive_noise(solver) and not additive_noise:
        raise IncompatibleChoiceError(
            f"solver={solver!r} needs additive (constant) noise, but this surface's gradient "
            "noise depends on θ; use 'euler' (Itô) or, for model='underdamped', 'heun'/'spark'"
        )
    if is_stratonovich(solver) and not additive_noise and not model.commutative_noise:
        raise IncompatibleChoiceError(
            f"solver={solver!r} converges to the Stratonovich solution, but model={model.name!r} "
            "with state-dependent noise is an Itô SDE; use solver='euler'"
        )
    model.bind(run)


@dataclasses.dataclass(frozen=True)
class SDESetup:
    """A checked way to integrate one SDE for one run: the model, the solver (its name and
    instance), the solver steps per SGD step and the Brownian motion (which coupled SGD may
    share, :func:`sgdsde.simulate_sgd`)."""

    model: SDEModel
    solver_name: str
    solver: diffrax.AbstractSolver
    substeps: int
    brownian: BrownianSpec


DEFAULT_SDE = SDEConfig()


def setup_sde(
    surface: Surface, run: RunConfig, sde: SDEConfig | SDEModel | str = DEFAULT_SDE
) -> SDESetup:
    """Check `sde` against the surface and the run (:func:`check_compatible`) and resolve its
    model, solver and Brownian path. `sde` may be a config, a model object or a model name
    (then with the default solver, substeps and path)."""
    config = sde if isinstance(sde, SDEConfig) else SDEConfig(model=sde)
    check_surface_fits_run(surface, run)
    check_compatible(
        run, config, additive_noise=surface.additive_noise,
        resampled_noise=surface.resampled_noise,
    )
    model = sde_model(config.model).bind(run)
    solver_name = config.resolved_solver(surface.additive_noise and not model.multiplicative_noise)
    solver = make_solver(solver_name)
    tau = float(model.time_per_step(run.lr, run.momentum))
    spec = BrownianSpec(
        kind=config.brownian,
        # a hair beyond τ·steps: in float32 the solver's last grid point may round above it,
        # and a virtual Brownian tree refuses to be evaluated outside [0, horizon]
        horizon=tau * run.steps * (1.0 + 1e-6),
        time_per_step=tau,
        substeps=config.substeps,
        noise_dim=surface.noise_dim,
        levy_area=levy_area_for(solver),
        tol_fraction=config.tree_tol_fraction,
    )
    return SDESetup(model, solver_name, solver, config.substeps, spec)


def brownian_spec(surface: Surface, run: RunConfig, sde: SDEConfig) -> BrownianSpec:
    """The Brownian motion the SDE of (`run`, `sde`) is driven by (and coupled SGD shares)."""
    return setup_sde(surface, run, sde).brownian


def simulate_sde(
    surface: Surface,
    run: RunConfig,
    sde: SDEConfig | SDEModel | str | SDESetup = DEFAULT_SDE,
    *,
    save_steps: object = None,
    theta0: Vector | None = None,
) -> EnsembleRun:
    """Integrate P = `run.paths` independent paths of an SDE model of SGD.

    `sde` is an :class:`~sgdsde.config.SDEConfig`, an :class:`~sgdsde.sde_models.SDEModel`
    object or registered name (default solver, substeps and path), or an :class:`SDESetup`
    already checked by :func:`setup_sde`. Outputs are saved at the SDE times τ·k of the SGD
    steps k in `save_steps`, so they compare with :func:`sgdsde.simulate_sgd` step for step.
    With a "grid" or "tree" Brownian path, path i uses the same Brownian motion as coupled SGD
    path i (same seed).

    **Returns:** an :class:`EnsembleRun` with θ of shape (paths, saves, d).
    """
    steps = checked_save_steps(save_steps, run.steps)
    setup = sde if isinstance(sde, SDESetup) else setup_sde(surface, run, sde)
    start = surface.initial_point() if theta0 is None else jnp.asarray(theta0)
    spec = setup.brownian
    theta, failed = sde_trajectories(
        surface,
        setup.model,
        setup.solver,
        start,
        jnp.asarray(run.lr, start.dtype),
        jnp.asarray(run.momentum, start.dtype),
        jnp.asarray(run.noise_factor, start.dtype),
        path_keys(run.seed, run.paths, Stream.BROWNIAN),
        path_keys(run.seed, run.paths, Stream.NOISE_SUBSET),
        jnp.asarray(steps),
        spec=spec,
        n_sgd_steps=run.steps,
        substeps=setup.substeps,
    )
    info = {
        "simulator": "sde",
        "model": setup.model.name,
        "solver": setup.solver_name,
        "substeps_per_sgd_step": setup.substeps,
        "dt": spec.dt,
        "time_per_sgd_step": spec.time_per_step,
        "brownian": type(spec.path(jax.random.key(0), start.dtype)).__name__,
        "levy_area": spec.levy_area.__name__,
        "config": run,
        "sde_config": sde if isinstance(sde, SDEConfig) else None,
        **provenance(),
    }
    diverged = failed | diverged_paths(theta, run.divergence_bound)
    return EnsembleRun(np.asarray(steps), theta, diverged, info)


@eqx.filter_jit
def sde_trajectories(
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
    """The compiled kernel of :func:`simulate_sde`: θ at the SDE times of `save_steps` for
    every key, and whether the solver failed (one compilation for the whole ensemble)."""
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
