"""Learned surface (MLP on MNIST-1D): cost of an exact-noise SDE step, and SGD ensemble throughput.

Problem: :func:`sgdsde.learned_surface` of a one-hidden-layer ReLU MLP (``--width``) on N
MNIST-1D training examples (``--n-train``), float32, heavy ball ε = 0.05, m = 0.9, B = 32
(without replacement), P = ``--paths`` independent paths. Two tables per width:

1. **One SDE step against one full-batch gradient** (target: under 3×). Every row is vmapped
   over the same P paths, so ratios per ensemble equal ratios per path.

   - ``full-batch gradient, per call``: ``jit(vmap(surface.gradient))`` on P copies of θ₀,
     ``--calls`` back-to-back calls per timed repeat; ``noise_apply, per call`` likewise for
     ``surface.noise_apply`` (the exact noise D(θ)z, one VJP).
   - ``... in loop``: the same evaluations inside a ``jit(vmap(fori_loop))`` (gradient descent
     θ ← θ − τ∇L, resp. θ ← θ − 0.1τ·D(θ)z), cost per evaluation from the slope over two loop
     lengths. This is the like-for-like baseline for a solver step: a standalone call also pays
     for first-touching XLA's temporary buffer (≈100 MB at width 256, allocated per call by
     mmap: ~25k page faults, tens of ms of system time), which a loop pays once.
   - ``hand Euler–Maruyama SME1``: the same loop doing θ ← θ + b(θ)τ + σ(θ)ΔW with sgdsde's
     first-order-SME drift and diffusion (``FirstOrderSME``) outside Diffrax.
   - ``sgdsde sme1 euler``: :func:`sgdsde.simulate_sde` (``sme1``, Euler, one substep,
     ``"unsafe"`` Brownian path) end to end, saving steps 0 and K.

   Loops and ``simulate_sde`` run for K₁ < K₂ steps (``--sde-steps``); the cost per step is
   the slope (t(K₂) − t(K₁))/(K₂ − K₁), taken per round-robin repeat, then the median, which
   removes fixed costs (set-up, buffers, saving); the intercept is printed as "overhead".
2. **Discrete-SGD ensemble throughput.** :func:`sgdsde.simulate_sgd` for K₁ and K₂ updates
   (``--sgd-steps``, slope as above) against a hand-written ``jit(vmap(lax.scan))`` over epochs
   (one ``jax.random.permutation`` per epoch, drawn from the same per-path key as sgdsde's,
   ``fold_in(key, epoch)``, then a ``lax.scan`` over the epoch's ⌊N/B⌋ batches with
   ``optax.sgd`` on the Equinox model's parameter arrays), so both do the same updates on the
   same batches: the final θ of the two agree bit for bit (printed below the table).

Every runner is called once to compile ("first call"; for slope rows the larger of the two),
then all runners of a table are timed round-robin, ``--repeats`` times each, so that changes
in machine load hit all of them alike; tables report medians. ``EQX_ON_ERROR=nan`` is set
before equinox is imported (no runtime checks, as Diffrax advises for benchmarks). The
defaults take about 2 minutes on a 2-core CPU; ``--width 800 --sde-steps 4 12 --calls 2``
(the paper's width) takes about as long again.

Run: ``python benchmarks/bench_learned.py [--width 256 --n-train 4000 --paths 8]``.
"""

from __future__ import annotations

import os

os.environ["EQX_ON_ERROR"] = "nan"  # before equinox is imported: no runtime checks

import argparse
import dataclasses
import platform
import statistics
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from _timing import Runner, Timing, time_round_robin
from jax import lax
from jax.flatten_util import ravel_pytree

import sgdsde
from sgdsde.brownian import Stream, path_keys
from sgdsde.learning import load_dataset, per_example_loss
from sgdsde.sde_models import FirstOrderSME
from sgdsde.surfaces import LearnedSurface, learned_surface
from sgdsde.theory import minibatch_noise_factor

LR = 0.05
MOMENTUM = 0.9
SEED = 0
N_TEST = 100  # the test split is not used; keep it small
TARGET_SDE_RATIO = 3.0
GRAD_CALL = "full-batch gradient, per call"
NOISE_CALL = "noise_apply, per call"
GRAD_LOOP = "full-batch gradient, in loop"
NOISE_LOOP = "noise_apply, in loop"
HAND_EULER = "hand Euler–Maruyama SME1"
SDE = "sgdsde sme1 euler"
HAND_SGD = "hand scan SGD"
SGDSDE_SGD = "sgdsde simulate_sgd"

@dataclasses.dataclass(frozen=True)
class Slope:
    """Cost per step from two step counts: the median over repeats of the paired slopes."""

    per_step: float  # seconds per (ensemble) step
    overhead: float  # seconds: the intercept t(K₁) − K₁·per_step (medians)
    first_call: float  # seconds: the larger of the two compiling calls

    @classmethod
    def of(cls, short: Timing, long: Timing, steps: tuple[int, int]) -> Slope:
        span = steps[1] - steps[0]
        slopes = [(b - a) / span for a, b in zip(short.repeats, long.repeats, strict=True)]
        per_step = statistics.median(slopes)
        return cls(
            per_step, short.median - steps[0] * per_step, max(short.first_call, long.first_call)
        )


def run_config(n_train: int, paths: int, batch_size: int, steps: int) -> sgdsde.RunConfig:
    return sgdsde.RunConfig(
        lr=LR,
        momentum=MOMENTUM,
        batch_size=batch_size,
        n_train=n_train,
        steps=steps,
        paths=paths,
        seed=SEED,
    )


def repeated(function: Callable[..., jax.Array], calls: int, *args: jax.Array) -> Runner:
    """Zero-argument runner: `calls` back-to-back calls, blocking on the last result."""

    def go() -> jax.Array:
        for _ in range(calls):
            result = function(*args)
        return result.block_until_ready()

    return go


# ------------------------------------------------------------------ part 1: SDE step vs gradient


@dataclasses.dataclass(frozen=True)
class SDEProblem:
    """θ₀ for every path, per-path keys and fixed noise vectors, and the SME's constants."""

    surface: LearnedSurface
    theta: jax.Array  # (P, d): P copies of θ₀
    keys: jax.Array  # (P,) Brownian keys, as simulate_sde's
    z: jax.Array  # (P, N) fixed standard normals, for the noise_apply rows
    dt: jax.Array  # τ = ε/(1−m): one SGD step in SME time (one solver step)
    factor: jax.Array  # f = (1/B)(N−B)/(N−1)

    @classmethod
    def make(cls, surface: LearnedSurface, paths: int, batch_size: int) -> SDEProblem:
        theta = jnp.tile(surface.initial_point(), (paths, 1))
        z = jax.random.normal(jax.random.key(SEED), (paths, surface.noise_dim), theta.dtype)
        dt = FirstOrderSME().time_per_step(jnp.float32(LR), jnp.float32(MOMENTUM))
        factor = minibatch_noise_factor(batch_size, surface.n_train, False)
        keys = path_keys(SEED, paths, Stream.BROWNIAN)
        return cls(surface, theta, keys, z, dt, jnp.asarray(factor, theta.dtype))

    def euler_step(self, theta: jax.Array, key: jax.Array, step: jax.Array) -> jax.Array:
        """Hand-written Euler–Maruyama step of the first-order SME (sgdsde's drift and
        diffusion, fresh increments √dt·normal(fold_in(key, step)))."""
        model, lr, momentum = FirstOrderSME(), jnp.float32(LR), jnp.float32(MOMENTUM)
        shape = (self.surface.noise_dim,)
        dw = jnp.sqrt(self.dt) * jax.random.normal(jax.random.fold_in(key, step), shape)
        drift = model.drift(self.surface, theta, lr, momentum)
        return (
            theta
            + drift * self.dt
            + model.diffusion(self.surface, theta, dw, lr, momentum, self.factor)
        )


Update = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


def looped(problem: SDEProblem, update: Update, steps: int) -> Runner:
    """Zero-argument runner of ``jit(vmap(fori_loop))``: `steps` updates θ ← update(θ, z,
    key, i) per path, so each evaluation is timed inside a loop, as in the SDE solver."""

    def one_path(theta: jax.Array, z: jax.Array, key: jax.Array) -> jax.Array:
        return lax.fori_loop(0, steps, lambda i, t: update(t, z, key, i), theta)

    solve = jax.jit(jax.vmap(one_path))
    return lambda: solve(problem.theta, problem.z, problem.keys).block_until_ready()


def sde_step_runners(surface: LearnedSurface, args: argparse.Namespace) -> dict[str, Runner]:
    """The gradient and noise_apply per call and in loops, a hand-written Euler loop and
    simulate_sde, the loops at K₁ and K₂ steps."""
    problem = SDEProblem.make(surface, args.paths, args.batch_size)
    grad_call = jax.jit(jax.vmap(surface.gradient))
    noise_call = jax.jit(jax.vmap(surface.noise_apply))
    runners = {
        GRAD_CALL: repeated(grad_call, args.calls, problem.theta),
        NOISE_CALL: repeated(noise_call, args.calls, problem.theta, problem.z),
    }
    step_size = problem.dt
    updates: dict[str, Update] = {
        GRAD_LOOP: lambda t, z, key, i: t - step_size * surface.gradient(t),
        NOISE_LOOP: lambda t, z, key, i: t - 0.1 * step_size * surface.noise_apply(t, z),
        HAND_EULER: lambda t, z, key, i: problem.euler_step(t, key, i),
    }
    sde = sgdsde.SDEConfig(model="sme1", solver="euler", substeps=1, brownian="unsafe")
    for steps in args.sde_steps:
        for name, update in updates.items():
            runners[f"{name} K={steps}"] = looped(problem, update, steps)
        run = run_config(surface.n_train, args.paths, args.batch_size, steps)

        def go(run: sgdsde.RunConfig = run) -> jax.Array:
            result = sgdsde.simulate_sde(surface, run, sde, save_steps=(0, run.steps))
            return result.theta.block_until_ready()

        runners[f"{SDE} K={steps}"] = go
    return runners


def print_sde_table(timings: dict[str, Timing], args: argparse.Namespace) -> tuple[float, float]:
    """Per-call (per-step) times per ensemble and per path, and the ratios to both gradient
    baselines; returns the SDE step's ratios (to the gradient per call, in a loop)."""
    paths, (k1, k2) = args.paths, args.sde_steps
    rows: dict[str, tuple[float, float, str]] = {}  # name: (first call, s per eval, note)
    for name in (GRAD_CALL, NOISE_CALL):
        rows[name] = (
            timings[name].first_call,
            timings[name].median / args.calls,
            f"{args.calls} calls per repeat",
        )
    for name in (GRAD_LOOP, NOISE_LOOP, HAND_EULER, SDE):
        short, long = timings[f"{name} K={k1}"], timings[f"{name} K={k2}"]
        slope = Slope.of(short, long, (k1, k2))
        rows[name] = (
            slope.first_call,
            slope.per_step,
            f"slope K {k1}→{k2}, overhead {1e3 * slope.overhead:.0f} ms",
        )
    per_call, in_loop = rows[GRAD_CALL][1], rows[GRAD_LOOP][1]
    header = (
        f"{'row':<30} {'first call s':>12} {'ms / ensemble':>14} {'ms / path':>10} "
        f"{'vs grad call':>12} {'vs grad loop':>12}  how"
    )
    print(header)
    print("-" * (len(header) + 30))
    for name, (first, seconds, note) in rows.items():
        print(
            f"{name:<30} {first:>12.2f} {1e3 * seconds:>14.2f} {1e3 * seconds / paths:>10.3f} "
            f"{seconds / per_call:>11.2f}× {seconds / in_loop:>11.2f}×  {note}"
        )
    return rows[SDE][1] / per_call, rows[SDE][1] / in_loop


# ------------------------------------------------------------ part 2: SGD ensemble throughput


def hand_sgd(
    surface: LearnedSurface, batch_size: int, steps: int
) -> Callable[[jax.Array], jax.Array]:
    """``jit(vmap(...))`` heavy-ball SGD on the network's parameters (an Equinox model's
    arrays, as one would write it by hand): per-path keys ↦ flat θ after `steps` updates.

    Epoch e uses ``permutation(fold_in(key, e), N)`` cut into ⌊N/B⌋ batches (sgdsde's
    sampler), drawn once per epoch; updates by ``optax.sgd(LR, momentum=MOMENTUM)``.
    """
    n = surface.n_train
    per_epoch = n // batch_size
    full_epochs, remainder = divmod(steps, per_epoch)
    optimizer = optax.sgd(LR, momentum=MOMENTUM)
    x, y, l2 = surface.x_train, surface.y_train, surface.l2
    params0, static = eqx.partition(surface.unflatten(surface.initial_point()),
                                    eqx.is_inexact_array)

    def batch_loss(params: eqx.Module, index: jax.Array) -> jax.Array:
        data = per_example_loss(eqx.combine(params, static), x[index], y[index]).mean()
        return data + 0.5 * l2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))

    def update(carry: tuple, index: jax.Array) -> tuple[tuple, None]:
        params, state = carry
        updates, state = optimizer.update(jax.grad(batch_loss)(params, index), state, params)
        return (optax.apply_updates(params, updates), state), None

    def one_path(key: jax.Array) -> jax.Array:
        def batches(epoch: jax.Array) -> jax.Array:
            order = jax.random.permutation(jax.random.fold_in(key, epoch), n)
            return order[: per_epoch * batch_size].reshape(per_epoch, batch_size)

        def epoch(carry: tuple, e: jax.Array) -> tuple[tuple, None]:
            return lax.scan(update, carry, batches(e))[0], None

        carry = (params0, optimizer.init(params0))
        carry, _ = lax.scan(epoch, carry, jnp.arange(full_epochs))
        if remainder:
            carry, _ = lax.scan(update, carry, batches(jnp.asarray(full_epochs))[:remainder])
        return ravel_pytree(carry[0])[0]

    return jax.jit(jax.vmap(one_path))


def sgd_runners(surface: LearnedSurface, args: argparse.Namespace) -> dict[str, Runner]:
    """The hand-written scan (baseline) and simulate_sgd, each at K₁ and K₂ updates."""
    keys = path_keys(SEED, args.paths, Stream.MINIBATCH)
    runners: dict[str, Runner] = {}
    for steps in args.sgd_steps:
        runners[f"{HAND_SGD} K={steps}"] = repeated(
            hand_sgd(surface, args.batch_size, steps), 1, keys
        )
    for steps in args.sgd_steps:
        run = run_config(surface.n_train, args.paths, args.batch_size, steps)

        def go(run: sgdsde.RunConfig = run) -> jax.Array:
            return sgdsde.simulate_sgd(surface, run, save_steps=(0, run.steps)).theta

        runners[f"{SGDSDE_SGD} K={steps}"] = lambda go=go: go().block_until_ready()
    return runners


def sgd_agreement(surface: LearnedSurface, args: argparse.Namespace) -> float:
    """max |θ_hand − θ_sgdsde| / max |θ_sgdsde| after K₁ updates (the same batches)."""
    steps = args.sgd_steps[0]
    keys = path_keys(SEED, args.paths, Stream.MINIBATCH)
    hand = hand_sgd(surface, args.batch_size, steps)(keys)
    run = run_config(surface.n_train, args.paths, args.batch_size, steps)
    engine = sgdsde.simulate_sgd(surface, run, save_steps=(0, steps)).theta[:, -1]
    return float(jnp.max(jnp.abs(hand - engine)) / jnp.max(jnp.abs(engine)))


def print_sgd_table(timings: dict[str, Timing], args: argparse.Namespace) -> float:
    """Updates per second of each ensemble (slope over K₁→K₂) and the ratio to the baseline."""
    k1, k2 = args.sgd_steps
    slopes = {
        name: Slope.of(timings[f"{name} K={k1}"], timings[f"{name} K={k2}"], (k1, k2))
        for name in (HAND_SGD, SGDSDE_SGD)
    }
    base = 1.0 / slopes[HAND_SGD].per_step
    header = (
        f"{'row':<22} {'first call s':>12} {f't(K={k1}) s':>11} {f't(K={k2}) s':>11} "
        f"{'µs / update':>12} {'updates/s':>10} {'path-upd/s':>11} {'vs baseline':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, slope in slopes.items():
        rate = 1.0 / slope.per_step
        print(
            f"{name:<22} {slope.first_call:>12.2f} {timings[f'{name} K={k1}'].median:>11.3f} "
            f"{timings[f'{name} K={k2}'].median:>11.3f} {1e6 * slope.per_step:>12.1f} "
            f"{rate:>10.1f} {rate * args.paths:>11.1f} {rate / base:>10.3f}×"
        )
    return slopes[HAND_SGD].per_step / slopes[SGDSDE_SGD].per_step


# --------------------------------------------------------------------------------------- main


def print_header(args: argparse.Namespace) -> None:
    """Versions, device, load and the problem size."""
    device = jax.devices()[0]
    print(
        f"jax {jax.__version__}, diffrax {diffrax.__version__}, equinox {eqx.__version__}, "
        f"optax {optax.__version__}, python {platform.python_version()}; "
        f"device {device.platform}:{device.device_kind}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"EQX_ON_ERROR={os.environ['EQX_ON_ERROR']} (Equinox runtime checks off), float32; "
        f"MLP on MNIST-1D, N={args.n_train}, lr={LR}, momentum={MOMENTUM}, "
        f"B={args.batch_size}, paths={args.paths}; median of {args.repeats} round-robin "
        "repeats"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--width",
        type=int,
        nargs="+",
        default=[256],
        help="MLP hidden width(s); each gets both tables",
    )
    parser.add_argument("--n-train", type=int, default=4000, help="training examples N")
    parser.add_argument("--paths", type=int, default=8, help="ensemble size P")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size B")
    parser.add_argument(
        "--sde-steps",
        type=int,
        nargs=2,
        default=[8, 24],
        metavar=("K1", "K2"),
        help="SDE steps of the two simulate_sde runs (slope)",
    )
    parser.add_argument(
        "--sgd-steps",
        type=int,
        nargs=2,
        default=[125, 250],
        metavar=("K1", "K2"),
        help="SGD updates of the two runs (slope)",
    )
    parser.add_argument(
        "--calls", type=int, default=3, help="calls per timed repeat of the per-call rows"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per runner (>= 3)")
    parser.add_argument("--skip-sgd", action="store_true", help="part 1 only")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    for option in ("sde_steps", "sgd_steps"):
        k1, k2 = getattr(args, option)
        if not 1 <= k1 < k2:
            parser.error(f"--{option.replace('_', '-')} needs 1 <= K1 < K2")
    return args


def main(argv: list[str] | None = None) -> None:
    """Load the data, then for each width time both parts and print the tables."""
    args = parse_args(argv)
    print_header(args)
    dataset = load_dataset("mnist1d", n_train=args.n_train, n_test=N_TEST, seed=SEED)
    for width in args.width:
        surface = learned_surface(dataset, "mlp", width=width, seed=SEED, dtype=jnp.float32)
        print(f"\n=== width {width}: d = {surface.dim:,} parameters, N = {surface.n_train} ===")
        print("1. one SDE step (exact state-dependent noise) vs one full-batch gradient")
        timings = time_round_robin(sde_step_runners(surface, args), args.repeats)
        print()
        ratios = print_sde_table(timings, args)
        verdict = "meets" if max(ratios) < TARGET_SDE_RATIO else "MISSES"
        print(
            f"SDE step / full-batch gradient = {ratios[0]:.2f} (per call), {ratios[1]:.2f} "
            f"(in loop): {verdict} < {TARGET_SDE_RATIO:g}"
        )
        if args.skip_sgd:
            continue
        print(
            f"\n2. discrete SGD ensemble, {args.paths} seeds, B = {args.batch_size} "
            f"({args.n_train // args.batch_size} batches per epoch)"
        )
        timings = time_round_robin(sgd_runners(surface, args), args.repeats)
        print()
        ratio = print_sgd_table(timings, args)
        print(
            f"sgdsde / hand-written updates per second = {ratio:.3f}; same updates: "
            f"max |θ_hand − θ_sgdsde| / max |θ_sgdsde| after K={args.sgd_steps[0]} = "
            f"{sgd_agreement(surface, args):.1e}"
        )


if __name__ == "__main__":
    main()
