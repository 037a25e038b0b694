"""The batch-size toolkit's costs, as ratios against baselines run in the same process.

1. **Exact noise scale on an MLP** (:func:`sgdsde.studies.gradient_noise_scale`: tr C from the
   per-example gradients, tr(HC) by min(N, d) Hessian–vector products, GᵀHG by one) against one
   full-batch gradient ``jit(surface.gradient)``; beside it the per-example gradients alone
   (everything B_simple needs), one Hessian–vector product and the two-batch estimate
   (:func:`sgdsde.studies.two_batch_noise_scale`, 256 pairs). MNIST-1D, N = 1000.
2. **The NQM recursion** (:func:`sgdsde.theory.nqm_expected_loss`, heavy ball, d = 10⁴,
   10⁴ steps; the issue asks for well under a second) against the same recursion written as a
   NumPy loop over steps (vectorised over d).

Every runner is called once to compile, then the runners are timed round-robin, `--repeats`
times each (``_timing.time_round_robin``); the table reports medians.

Run: ``python benchmarks/bench_toolkit.py [--width 64 --n-train 1000 --repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform

import jax
import numpy as np
from _timing import Runner, time_round_robin

from sgdsde import learned_surface, load_dataset, theory
from sgdsde.studies import gradient_noise_scale, two_batch_noise_scale
from sgdsde.surfaces import NoisyQuadratic

SEED = 0
GRADIENT = "full-batch gradient (baseline)"
NUMPY_NQM = "NumPy loop (baseline)"


def noise_runners(width: int, n_train: int) -> dict[str, Runner]:
    """The full-batch gradient, the per-example gradients, one HVP, the exact noise scale and
    the two-batch estimate at the MLP's initialisation."""
    data = load_dataset("mnist1d", n_train=n_train, n_test=100, seed=SEED)
    surface = learned_surface(data, "mlp", width=width, seed=SEED)
    theta = surface.initial_point()
    gradient = jax.jit(lambda t: surface.gradient(t))
    per_example = jax.jit(lambda t: surface.per_example_gradients(t))
    hvp = jax.jit(lambda t, v: jax.jvp(surface.gradient, (t,), (v,))[1])
    print(f"MLP width {width} on MNIST-1D: d = {surface.dim:,}, N = {n_train}; exact tr(HC) "
          f"takes min(N, d) = {min(n_train, surface.dim):,} Hessian-vector products")
    return {
        GRADIENT: lambda: gradient(theta).block_until_ready(),
        "per-example gradients (B_simple's part)": lambda: per_example(theta).block_until_ready(),
        "one Hessian-vector product": lambda: hvp(theta, theta).block_until_ready(),
        "exact B_simple and B_noise": lambda: gradient_noise_scale(surface, theta),
        "two-batch estimate (256 pairs, b=8, B'=128)": lambda: two_batch_noise_scale(
            surface, theta, small_batch=8, large_batch=128, pairs=256),
    }


def nqm_runners(dim: int, steps: int) -> dict[str, Runner]:
    """The jitted exact recursion and a NumPy loop of the same per-coordinate algebra."""
    surface = NoisyQuadratic.power_law(dim)
    h, c, theta0 = surface.curvatures, surface.noise_variances, surface.initial_point()
    lr, momentum, factor = 0.5, 0.9, 1.0 / 16

    @jax.jit
    def recursion() -> jax.Array:
        A, Q = theory.nqm_sgd_transition(h, lr, momentum)
        return theory.nqm_expected_loss(A, Q, h, c, theta0, factor, steps)

    hn, cn = np.asarray(h, np.float32), np.asarray(c, np.float32)

    def numpy_loop() -> np.ndarray:
        a, b, g, e = 1 - lr * hn, -lr * momentum, hn, momentum
        p, q, r = np.asarray(theta0, np.float32) ** 2, np.zeros_like(hn), np.zeros_like(hn)
        s = factor * cn
        losses = np.empty(steps + 1, np.float32)
        for k in range(steps + 1):
            losses[k] = 0.5 * np.dot(hn, p)
            p, q, r = (a * a * p + 2 * a * b * q + b * b * r + lr * lr * s,
                       a * g * p + (a * e + b * g) * q + b * e * r - lr * s,
                       g * g * p + 2 * g * e * q + e * e * r + s)
        return losses

    agreement = np.max(np.abs(np.asarray(recursion()) - numpy_loop()) / numpy_loop())
    print(f"NQM d = {dim:,}, {steps:,} steps: max relative difference jax vs NumPy "
          f"{agreement:.1e}")
    return {NUMPY_NQM: numpy_loop,
            "theory.nqm_expected_loss (jit)": lambda: recursion().block_until_ready()}


def report(title: str, runners: dict[str, Runner], baseline: str, repeats: int) -> None:
    """Time `runners` round-robin and print medians and ratios to `baseline`."""
    timings = time_round_robin(runners, repeats)
    base = timings[baseline].median
    print(f"\n{title}")
    print(f"{'row':<46} {'first call s':>12} {'median s':>10} {'vs baseline':>12}")
    for name, timing in timings.items():
        print(f"{name:<46} {timing.first_call:>12.2f} {timing.median:>10.4f} "
              f"{timing.median / base:>11.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="MLP hidden width")
    parser.add_argument("--n-train", type=int, default=1000, help="training examples N")
    parser.add_argument("--dim", type=int, default=10_000, help="NQM dimension d")
    parser.add_argument("--steps", type=int, default=10_000, help="NQM recursion steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per runner")
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"jax {jax.__version__}, python {platform.python_version()}, device "
          f"{device.platform}:{device.device_kind}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}, float32")
    report("1. exact noise scale against one full-batch gradient",
           noise_runners(args.width, args.n_train), GRADIENT, args.repeats)
    report("2. the NQM recursion against a NumPy loop",
           nqm_runners(args.dim, args.steps), NUMPY_NQM, args.repeats)


if __name__ == "__main__":
    main()
