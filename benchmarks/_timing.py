"""Shared timing helpers of the benchmarks: compile once, then time runners round-robin so
that load changes on a shared machine hit every row alike."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

Runner = Callable[[], object]


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall times of one runner: the first (compiling) call and the timed repeats."""

    first_call: float
    repeats: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.repeats)


def time_round_robin(runners: dict[str, Runner], repeats: int) -> dict[str, Timing]:
    """Call every runner once (compilation), then `repeats` times each, interleaved."""
    first: dict[str, float] = {}
    for name, runner in runners.items():
        start = time.perf_counter()
        runner()
        first[name] = time.perf_counter() - start
        print(f"  compiled and ran {name!r} in {first[name]:.2f} s", flush=True)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner()
            times[name].append(time.perf_counter() - start)
    return {name: Timing(first[name], times[name]) for name in runners}
