"""The claims framework of the tour: a claim is a statement, its prediction, what was measured,
the fixed statistical test that decided it, and whether it held. Every check of the tour is at
family-wise false-alarm rate :data:`ALPHA`."""

from __future__ import annotations

import dataclasses
from typing import Any

from scipy import stats

#: Family-wise false-alarm rate of every statistical check in the tour.
ALPHA = 0.01


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked statement: what was predicted, what was measured, and whether it held."""

    name: str
    statement: str
    predicted: str
    measured: str
    held: bool
    test: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the claim."""
        return dataclasses.asdict(self)


def bonferroni_z(count: int, alpha: float = ALPHA) -> float:
    """Two-sided normal critical value for `count` simultaneous checks at family-wise `alpha`."""
    return float(stats.norm.isf(alpha / (2 * count)))


def one_sided_z(alpha: float = ALPHA) -> float:
    """One-sided normal critical value at `alpha`."""
    return float(stats.norm.isf(alpha))
