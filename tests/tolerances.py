"""Helpers that turn standard errors into test tolerances (shared by the statistical tests)."""

from __future__ import annotations

import numpy as np
from scipy import stats

FAMILY_FALSE_ALARM = 1e-4


def z_bound(n_comparisons: int, false_alarm: float = FAMILY_FALSE_ALARM) -> float:
    """Two-sided z such that n independent Gaussian errors all stay inside it with
    probability 1 − false_alarm (Bonferroni)."""
    return float(stats.norm.isf(false_alarm / (2 * n_comparisons)))


def assert_within_stderr(estimate, stderr, truth, *, false_alarm: float = FAMILY_FALSE_ALARM):
    """|estimate − truth| ≤ z·stderr entrywise, z from the number of entries compared."""
    estimate, stderr, truth = (np.asarray(a, dtype=np.float64) for a in (estimate, stderr, truth))
    z = z_bound(estimate.size, false_alarm)
    excess = np.abs(estimate - truth) / stderr
    assert np.all(excess <= z), (
        f"max |estimate − truth|/stderr = {excess.max():.2f} > z = {z:.2f}\n"
        f"estimate={estimate}\ntruth={truth}\nstderr={stderr}"
    )


def upper_triangle(matrix):
    """The distinct entries of a symmetric matrix (so a covariance counts d(d+1)/2 tests)."""
    matrix = np.asarray(matrix)
    return matrix[np.triu_indices(matrix.shape[0])]


def assert_one_line_error(result, names) -> None:
    """A CLI mistake: exit code 2, nothing on stdout, one line ``error: ...`` on stderr that
    names every parameter in `names`, and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    assert "Traceback" not in result.output
    for name in names:
        assert name in message, (name, message)
