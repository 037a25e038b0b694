"""The whole tour of ``sgdsde tour``: four parts run in order, each returning a JSON-ready
record (with its claims), its figures and the Markdown of its report section.

========== ============================================ ==========================
part       what it checks                               module
========== ============================================ ==========================
quadratic  SGD and its SDEs against closed forms;        :mod:`sgdsde.tour`
           gap ∝ ε; weak error on a double well
learned    SGD vs the SME on MNIST-1D: agreement at     :mod:`sgdsde.tour_learned`
           small ε, breakdown at large ε (MLP)
scaling    a small sweep: B_opt ∝ ε, collapse in g,      :mod:`sgdsde.tour_scaling`
           decay ε ≡ grow B
evidence   Laplace evidence for random / informative     :mod:`sgdsde.tour_evidence`
           labels; noise → flatter end points
========== ============================================ ==========================

Nothing here prints or writes, except the sweep of the scaling part, which stores its runs
in `workdir` so that an interrupted tour resumes it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import UnknownNameError

PARTS: dict[str, str] = {
    "quadratic": "SGD and its SDEs on a quadratic and a double well",
    "learned": "SGD against its SDE on a learned surface (MNIST-1D)",
    "scaling": "Batch-size scaling: B_opt, the collapse in g, decay ε ≡ grow B",
    "evidence": "Bayesian evidence: random against informative labels, noise and flatness",
}


@dataclasses.dataclass(frozen=True)
class PartResult:
    """One part of the tour: its record (``title``, ``claims``, ``seconds`` and the part's
    numbers), its figures by file stem and its report body."""

    key: str
    record: dict[str, Any]
    figures: dict[str, Any]
    markdown: list[str]


def check_parts(parts: Sequence[str]) -> tuple[str, ...]:
    """The requested parts in tour order; an unknown name is an error naming the choices."""
    for part in parts:
        if part not in PARTS:
            raise UnknownNameError("part", part, tuple(PARTS))
    if not parts:
        raise UnknownNameError("part", "", tuple(PARTS))
    return tuple(p for p in PARTS if p in parts)


def run_part(key: str, *, quick: bool = False, seed: int = 0, float64: bool = False,
             workdir: str | Path = ".", on_step: Callable[[str], None] | None = None,
             on_sweep_progress: Callable[[int, int, str], None] | None = None) -> PartResult:
    """Run one part of the tour at its default (or `quick`) sizes with every seed `seed`.

    `workdir` receives the scaling part's sweep (``sweep-<config>``); `on_step(description)`
    is called before each stage and `on_sweep_progress(done, total, message)` during the
    sweep."""
    step = on_step or (lambda _: None)
    start = time.perf_counter()
    if key == "quadratic":
        from . import plots
        from .report import quadratic_markdown
        from .tour import TourSettings, run_tour

        settings = (TourSettings.quick if quick else TourSettings)(seed=seed, float64=float64)
        record = run_tour(settings, on_step=lambda text, *_: step(text)).to_dict()
        figures, body = plots.figures_from_results(record), quadratic_markdown(record)
    elif key == "learned":
        from .tour_learned import (
            LearnedTourSettings,
            learned_figures,
            learned_markdown,
            run_learned_section,
        )

        settings = (LearnedTourSettings.quick if quick else LearnedTourSettings)(seed=seed)
        record = run_learned_section(settings, on_step)
        figures, body = learned_figures(record), learned_markdown(record)
    elif key == "scaling":
        from .tour_scaling import ScalingTourSettings, run_scaling_section, scaling_markdown

        settings = (ScalingTourSettings.quick if quick else ScalingTourSettings)(seed=seed)
        folder = Path(workdir) / f"sweep-{Path(settings.sweep_config).stem}"
        record, figures = run_scaling_section(settings, folder, on_step, on_sweep_progress)
        body = scaling_markdown(record)
    elif key == "evidence":
        from .tour_evidence import EvidenceTourSettings, evidence_markdown, run_evidence_section

        settings = (EvidenceTourSettings.quick if quick else EvidenceTourSettings)(seed=seed)
        record, figures = run_evidence_section(settings, on_step)
        body = evidence_markdown(record)
    else:
        raise UnknownNameError("part", key, tuple(PARTS))
    record = {"title": PARTS[key], **record, "seconds": time.perf_counter() - start}
    return PartResult(key, record, figures, body)
