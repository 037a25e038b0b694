"""SDE ensemble throughput: sgdsde's Diffrax engine against a hand-written ``lax.scan``.

Problem: a d-dimensional quadratic (H eigenvalues logspace(-1, 0, d), noise covariance
eigenvalues logspace(0, -1, d) in a Haar-rotated basis), heavy ball with ε = 0.05, m = 0.9,
B = 1, integrated as the underdamped SDE of docs/theory.md §2(c), state y = (θ, u):

    dθ = u dt,   du = −(1−m) u dt − ε H(θ − θ*) dt − ε √f D dW,

with D the noise factor (D Dᵀ = C), f = 1/B, τ = 1 SDE time unit per SGD step and
dt = τ / substeps. Explicit Euler on this oscillator is stable only for
dt < (1 − m)/(ε·λ_max(H)), so λ_max(H) = 1 keeps dt = 1 (``--substeps 1``) stable; with
λ_max = 10^0.5 Euler paths blow up (|θ| ~ 1e19 after 2000 steps). Rows of the table:

- ``scan EM (fold_in)``: the baseline, ``jit(vmap(lax.scan))`` Euler–Maruyama of exactly these
  equations with increments ``√dt · normal(fold_in(key, j))``.
- ``scan EM (diffrax incr.)``: the same scan driven by ``UnsafeBrownianPath.evaluate`` with
  sgdsde's per-path keys; it must reproduce ``simulate_sde(solver="euler")`` to round-off,
  which checks that both integrate the same equations (printed below the table, with the
  ensemble's RMS distance from θ* at T for the baseline and for sgdsde, which agree only in
  distribution since their random numbers differ).
- ``sgdsde euler`` / ``heun`` / ``shark (default)``: :func:`sgdsde.simulate_sde` end to end
  (Python set-up, the ``info`` dict and ``.theta.block_until_ready()`` included), with an
  ``UnsafeBrownianPath``; ShARK is what ``solver=None`` picks for additive noise.
- ``torchsde euler``: ``torchsde.sdeint`` of the same SDE, if torchsde is installed.

Every runner is called once to compile (reported as "first call"), then the runners are timed
round-robin, `--repeats` times each, so that a change in machine load affects all of them
alike; the table reports the median. ``EQX_ON_ERROR=nan`` is set before equinox is imported,
which removes the runtime error checks, as Diffrax's documentation advises for benchmarks.
The target is ``sgdsde euler`` at ≥ 0.6× the baseline's throughput.

Run: ``python benchmarks/bench_sde_throughput.py [--dim 50 --paths 256 --steps 2000]``.
"""

from __future__ import annotations

import os

os.environ["EQX_ON_ERROR"] = "nan"  # before equinox is imported: no runtime checks

import argparse
import dataclasses
import platform
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from _timing import Runner, Timing, time_round_robin
from jax import lax

import sgdsde
from sgdsde.brownian import Stream, path_keys

LR = 0.05
MOMENTUM = 0.9
BATCH_SIZE = 1
SEED = 0
HESSIAN_LOG10_RANGE = (-1.0, 0.0)
NOISE_LOG10_RANGE = (0.0, -1.0)
TARGET_RATIO = 0.6
BASELINE = "scan EM (fold_in)"
CHECKED_AGAINST = "sgdsde euler"

@dataclasses.dataclass(frozen=True)
class Problem:
    """The benchmark problem: surface, run configuration and SDE time grid."""

    surface: sgdsde.Quadratic
    run: sgdsde.RunConfig
    substeps: int

    @property
    def solver_steps(self) -> int:
        return self.run.steps * self.substeps

    @property
    def dt(self) -> float:
        """Solver step: τ / substeps with τ = 1 for the underdamped SDE."""
        return 1.0 / self.substeps


def make_problem(dim: int, paths: int, steps: int, substeps: int) -> Problem:
    """The d-dimensional quadratic with rotated noise, heavy ball ε = 0.05, m = 0.9, B = 1."""
    surface = sgdsde.Quadratic.from_spectra(
        np.logspace(*HESSIAN_LOG10_RANGE, dim),
        np.logspace(*NOISE_LOG10_RANGE, dim),
        rotate_noise=True,
        seed=SEED,
    )
    run = sgdsde.RunConfig(
        lr=LR, momentum=MOMENTUM, batch_size=BATCH_SIZE, steps=steps, paths=paths, seed=SEED
    )
    return Problem(surface, run, substeps)


def noise_factor(run: sgdsde.RunConfig) -> float:
    """f in Σ_B = f·C (1/B here: infinite data)."""
    return run.noise_factor


def scan_euler_maruyama(problem: Problem, increments: str) -> Callable[[jax.Array], jax.Array]:
    """A jitted ``vmap(lax.scan)`` Euler–Maruyama of the underdamped SDE: keys ↦ θ at (0, T).

    `increments` is ``"fold_in"`` (ΔW_j = √dt·normal(fold_in(key, j))) or ``"diffrax"``
    (ΔW_j = ``UnsafeBrownianPath(key).evaluate(t_j, t_{j+1})``, the increments sgdsde uses).
    """
    surface, run, dtype = problem.surface, problem.run, problem.surface.hessian.dtype
    hessian, minimum, factor = surface.hessian, surface.minimum, surface.noise_factor
    lr, friction = run.lr, 1.0 - run.momentum
    noise_scale = -lr * np.sqrt(noise_factor(run))
    dt = jnp.asarray(problem.dt, dtype)
    sqrt_dt = jnp.sqrt(dt)
    grid = jnp.arange(problem.solver_steps + 1, dtype=dtype) * dt
    noise_shape = jax.ShapeDtypeStruct((surface.noise_dim,), dtype)

    def increment(key: jax.Array, j: jax.Array) -> jax.Array:
        if increments == "fold_in":
            return sqrt_dt * jax.random.normal(jax.random.fold_in(key, j), noise_shape.shape, dtype)
        path = diffrax.UnsafeBrownianPath(shape=noise_shape, key=key)
        return path.evaluate(grid[j], grid[j + 1])

    def one_path(key: jax.Array) -> jax.Array:
        def step(state: tuple[jax.Array, jax.Array], j: jax.Array) -> tuple[tuple, None]:
            theta, u = state
            d_theta = u * dt
            d_u = (-friction * u - lr * (hessian @ (theta - minimum))) * dt
            d_u = d_u + noise_scale * (factor @ increment(key, j))
            return (theta + d_theta, u + d_u), None

        start = (minimum, jnp.zeros_like(minimum))
        (theta, _), _ = lax.scan(step, start, jnp.arange(problem.solver_steps))
        return jnp.stack([minimum, theta])

    return jax.jit(jax.vmap(one_path))


def scan_runner(problem: Problem, increments: str) -> Runner:
    """Zero-argument runner of :func:`scan_euler_maruyama` on sgdsde's per-path keys."""
    solve = scan_euler_maruyama(problem, increments)
    keys = path_keys(problem.run.seed, problem.run.paths, Stream.BROWNIAN)
    return lambda: solve(keys).block_until_ready()


def sgdsde_runner(problem: Problem, solver: str | None) -> Runner:
    """Zero-argument runner of :func:`sgdsde.simulate_sde`, end to end, saving steps 0 and T."""
    sde = sgdsde.SDEConfig(
        model="underdamped", solver=solver, substeps=problem.substeps, brownian="unsafe"
    )
    save_steps = (0, problem.run.steps)

    def go() -> jax.Array:
        result = sgdsde.simulate_sde(problem.surface, problem.run, sde, save_steps=save_steps)
        return result.theta.block_until_ready()

    return go


def torchsde_runner(problem: Problem) -> Runner | None:
    """Zero-argument runner of ``torchsde.sdeint`` (Euler, Itô) of the same SDE, or None."""
    try:
        import torch
        import torchsde
    except ImportError:
        return None

    surface = problem.surface
    hessian = torch.from_numpy(np.asarray(surface.hessian))
    minimum = torch.from_numpy(np.asarray(surface.minimum))
    run = problem.run
    kick = -run.lr * np.sqrt(noise_factor(run)) * torch.from_numpy(np.asarray(surface.noise_factor))
    diffusion = torch.cat([torch.zeros_like(kick), kick], dim=0)  # (2d, r), constant

    class Underdamped(torch.nn.Module):
        noise_type = "additive"
        sde_type = "ito"

        def f(self, t, y):
            theta, u = y.chunk(2, dim=1)
            gradient = (theta - minimum) @ hessian.T
            return torch.cat([u, -(1.0 - run.momentum) * u - run.lr * gradient], dim=1)

        def g(self, t, y):
            return diffusion.expand(y.shape[0], -1, -1)

    sde = Underdamped()
    y0 = torch.cat([minimum, torch.zeros_like(minimum)]).expand(problem.run.paths, -1)
    y0 = y0.contiguous()
    ts = torch.tensor([0.0, float(problem.run.steps)], dtype=y0.dtype)
    torch.manual_seed(SEED)

    def go() -> object:
        with torch.no_grad():
            return torchsde.sdeint(sde, y0, ts, method="euler", dt=problem.dt)

    return go


@dataclasses.dataclass(frozen=True)
class Consistency:
    """How the baseline and the engine compare as solvers (not as timings)."""

    relative_error: float  # max |θ_scan − θ_sgdsde| / max |θ_sgdsde|, same increments
    rms_baseline: float  # RMS |θ_T − θ*| over the baseline's ensemble
    rms_sgdsde: float  # the same for simulate_sde(solver="euler")


def consistency(problem: Problem) -> Consistency:
    """Compare the scans with ``simulate_sde`` (Euler): exactly, and in distribution."""
    keys = path_keys(problem.run.seed, problem.run.paths, Stream.BROWNIAN)
    same_increments = scan_euler_maruyama(problem, "diffrax")(keys)
    baseline = scan_euler_maruyama(problem, "fold_in")(keys)
    sde = sgdsde.SDEConfig(
        model="underdamped", solver="euler", substeps=problem.substeps, brownian="unsafe"
    )
    engine = sgdsde.simulate_sde(
        problem.surface, problem.run, sde, save_steps=(0, problem.run.steps)
    ).theta

    def rms(theta: jax.Array) -> float:
        distance = theta[:, -1] - problem.surface.minimum
        return float(jnp.sqrt(jnp.mean(jnp.sum(distance**2, axis=-1))))

    error = jnp.max(jnp.abs(same_increments - engine)) / jnp.max(jnp.abs(engine))
    return Consistency(float(error), rms(baseline), rms(engine))


def print_header(problem: Problem, repeats: int) -> None:
    """Versions, device, load and the problem size."""
    device = jax.devices()[0]
    print(
        f"jax {jax.__version__}, diffrax {diffrax.__version__}, equinox {eqx.__version__}, "
        f"python {platform.python_version()}; device {device.platform}:{device.device_kind}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"EQX_ON_ERROR={os.environ['EQX_ON_ERROR']} (Equinox runtime checks off), float32")
    run = problem.run
    print(
        f"underdamped SDE, quadratic d={problem.surface.dim}, lr={run.lr}, "
        f"momentum={run.momentum}, B={run.batch_size}; paths={run.paths}, SGD steps={run.steps}, "
        f"substeps={problem.substeps} (solver steps={problem.solver_steps}, dt={problem.dt:g}); "
        f"median of {repeats} round-robin repeats"
    )


def print_table(problem: Problem, timings: dict[str, Timing]) -> None:
    """Median wall time, throughputs and ratio to the baseline, one row per runner."""
    paths, steps = problem.run.paths, problem.run.steps
    baseline = paths * steps / timings[BASELINE].median
    header = (
        f"{'runner':<24} {'first call s':>12} {'median s':>9} {'min s':>7} "
        f"{'paths·SGD steps/s':>18} {'paths·solver steps/s':>21} {'vs baseline':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, timing in timings.items():
        sgd_rate = paths * steps / timing.median
        print(
            f"{name:<24} {timing.first_call:>12.2f} {timing.median:>9.3f} "
            f"{min(timing.repeats):>7.3f} {sgd_rate:>18.3e} "
            f"{sgd_rate * problem.substeps:>21.3e} {sgd_rate / baseline:>10.2f}×"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=50, help="parameter dimension d")
    parser.add_argument("--paths", type=int, default=256, help="ensemble size")
    parser.add_argument("--steps", type=int, default=2000, help="SGD steps")
    parser.add_argument("--substeps", type=int, default=1, help="solver steps per SGD step")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per runner (>= 3)")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build the problem, time every runner and print the table and the verdict."""
    args = parse_args(argv)
    problem = make_problem(args.dim, args.paths, args.steps, args.substeps)
    print_header(problem, args.repeats)
    runners: dict[str, Runner] = {
        BASELINE: scan_runner(problem, "fold_in"),
        "scan EM (diffrax incr.)": scan_runner(problem, "diffrax"),
        "sgdsde euler": sgdsde_runner(problem, "euler"),
        "sgdsde heun": sgdsde_runner(problem, "heun"),
        "sgdsde shark (default)": sgdsde_runner(problem, None),
    }
    torch_runner = torchsde_runner(problem)
    if torch_runner is None:
        print("torchsde is not installed: skipping the torchsde comparison")
    else:
        runners["torchsde euler"] = torch_runner
    timings = time_round_robin(runners, args.repeats)
    print()
    print_table(problem, timings)
    print()
    check = consistency(problem)
    print(
        "same equations: max |θ_scan − θ_sgdsde| / max |θ_sgdsde| with Diffrax's increments "
        f"= {check.relative_error:.1e}; RMS |θ_T − θ*|: baseline {check.rms_baseline:.4f}, "
        f"sgdsde euler {check.rms_sgdsde:.4f}"
    )
    ratio = timings[BASELINE].median / timings[CHECKED_AGAINST].median
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"{CHECKED_AGAINST} / baseline throughput = {ratio:.2f} ({verdict} ≥ {TARGET_RATIO})")


if __name__ == "__main__":
    main()
