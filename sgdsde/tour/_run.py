"""The whole tour of ``sgdsde tour``: its parts run in order, each returning a JSON-ready
record (with its claims), its figures and the Markdown of its report section; then one
report and one ``results.json`` for all of them.

========== ============================================ =================================
part       what it checks                               module
========== ============================================ =================================
quadratic  SGD and its SDEs against closed forms;        :mod:`sgdsde.tour._quadratic`
           gap ∝ ε; weak error on a double well
learned    SGD vs the SME on MNIST-1D: agreement at     :mod:`sgdsde.tour._learned`
           small ε, breakdown at large ε (MLP)
scaling    a small sweep: B_opt ∝ ε, collapse in g,      :mod:`sgdsde.tour._scaling`
           decay ε ≡ grow B
evidence   Laplace evidence for random / informative     :mod:`sgdsde.tour._evidence`
           labels; noise → flatter end points
adaptive   batch-size rules on MNIST-1D: square-root    :mod:`sgdsde.tour._adaptive`
           for Adam/RMSprop, linear for SGD
toolkit    gradient noise scale, the noisy quadratic     :mod:`sgdsde.tour._toolkit`
           model and momentum, the SVAG validity test
========== ============================================ =================================

:func:`run_tour` computes (it writes nothing but the scaling part's resumable sweep store in
`workdir`); :meth:`Tour.save` writes ``report.md``, ``results.json`` and the figures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, json_safe, write_json
from .._validation import check_choice
from ..errors import UnknownNameError
from ..plots import quadratic_figures, save_figure
from ..results import device_name
from ._adaptive import (
    AdaptiveTourSettings,
    adaptive_figures,
    adaptive_markdown,
    run_adaptive_section,
)
from ._evidence import EvidenceTourSettings, evidence_markdown, run_evidence_section
from ._learned import (
    LearnedTourSettings,
    learned_figures,
    learned_markdown,
    run_learned_section,
)
from ._parts import PARTS
from ._quadratic import QuadraticTourSettings, run_quadratic_section
from ._quadratic_report import quadratic_markdown
from ._report import build_report, environment
from ._scaling import ScalingTourSettings, run_scaling_section, scaling_markdown
from ._toolkit import ToolkitTourSettings, run_toolkit_section, toolkit_markdown


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
    if not parts:
        raise UnknownNameError("part", "", tuple(PARTS))
    for part in parts:
        check_choice("part", part, PARTS)
    return tuple(p for p in PARTS if p in parts)


def run_part(key: str, *, quick: bool = False, seed: int = 0, float64: bool = False,
             workdir: str | Path = ".", on_step: Callable[[str], None] | None = None,
             on_sweep_progress: Callable[[int, int, str], None] | None = None) -> PartResult:
    """Run one part of the tour at its default (or `quick`) sizes with every seed `seed`.

    `workdir` receives the scaling part's sweep (``sweep-<config>-seed<seed>``);
    `on_step(description)` is called before each stage and `on_sweep_progress(done, total,
    message)` during the sweep."""
    check_choice("part", key, PARTS)
    step = on_step or (lambda _: None)
    start = time.perf_counter()
    if key == "quadratic":
        settings = (QuadraticTourSettings.quick if quick else QuadraticTourSettings)(
            seed=seed, float64=float64)
        record = run_quadratic_section(settings, on_step=lambda text, *_: step(text)).to_dict()
        figures, body = quadratic_figures(record), quadratic_markdown(record)
    elif key == "learned":
        settings = (LearnedTourSettings.quick if quick else LearnedTourSettings)(seed=seed)
        record = run_learned_section(settings, on_step)
        figures, body = learned_figures(record), learned_markdown(record)
    elif key == "scaling":
        settings = (ScalingTourSettings.quick if quick else ScalingTourSettings)(seed=seed)
        folder = Path(workdir) / f"sweep-{Path(settings.sweep_config).stem}-seed{seed}"
        record, figures = run_scaling_section(settings, folder, on_step, on_sweep_progress)
        body = scaling_markdown(record)
    elif key == "adaptive":
        settings = (AdaptiveTourSettings.quick if quick else AdaptiveTourSettings)(seed=seed)
        record = run_adaptive_section(settings, on_step)
        figures, body = adaptive_figures(record), adaptive_markdown(record)
    elif key == "evidence":
        settings = (EvidenceTourSettings.quick if quick else EvidenceTourSettings)(seed=seed)
        record, figures = run_evidence_section(settings, on_step)
        body = evidence_markdown(record)
    else:
        settings = (ToolkitTourSettings.quick if quick else ToolkitTourSettings)(seed=seed)
        record, figures = run_toolkit_section(settings, on_step)
        body = toolkit_markdown(record)
    record = {"title": PARTS[key], **record, "seconds": time.perf_counter() - start}
    return PartResult(key, record, figures, body)


@dataclasses.dataclass(frozen=True)
class Tour:
    """The parts of a tour, how long it took and where it ran."""

    parts: tuple[PartResult, ...]
    wall_seconds: float
    device: str
    environment: dict[str, str]

    @property
    def claims(self) -> list[tuple[str, dict[str, Any]]]:
        """Every claim as (part key, claim record), in tour order."""
        return [(part.key, claim) for part in self.parts for claim in part.record["claims"]]

    @property
    def all_held(self) -> bool:
        """Whether every claim held."""
        return all(claim["held"] for _, claim in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` record: every part's record under ``sections``, the times,
        the device and the environment (NaN kept as float; :func:`sgdsde._io.json_safe`)."""
        return {
            "sections": {part.key: part.record for part in self.parts},
            "seconds": {part.key: part.record["seconds"] for part in self.parts},
            "wall_seconds": self.wall_seconds, "device": self.device,
            "environment": self.environment,
        }

    def report(self, figures: dict[str, list[str]] | None = None) -> str:
        """The Markdown report (:func:`sgdsde.tour.build_report`); `figures` = part key → the
        file names of its saved figures."""
        return build_report(json_safe(self.to_dict()),
                            {part.key: part.markdown for part in self.parts}, figures,
                            self.environment)

    def save(self, out: str | Path) -> Path:
        """Write the figures (PNG), ``results.json`` and ``report.md`` into `out` (created if
        missing), each atomically; returns the report's path."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        names = {part.key: [save_figure(figure, out / f"{stem}.png").name
                            for stem, figure in part.figures.items()] for part in self.parts}
        write_json(out / "results.json", self.to_dict())
        return atomic_write_text(out / "report.md", self.report(names))


def run_tour(parts: Sequence[str] = tuple(PARTS), *, quick: bool = False, seed: int = 0,
             float64: bool = False, workdir: str | Path = "results/tour",
             on_part: Callable[[str, int, int], None] | None = None,
             on_step: Callable[[str, str], None] | None = None,
             on_sweep_progress: Callable[[int, int, str], None] | None = None) -> Tour:
    """Run the chosen `parts` of the tour (default all, in tour order) and return them with
    their claims evaluated; ``tour.save(out)`` writes the report.

    **Arguments:**

    - `parts`: names from :data:`PARTS` (any order; unknown names fail before anything runs).
    - `quick`: much smaller sizes (smoke runs; the error bars are then too loose for the
      claims to mean much).
    - `seed`: seed of every ensemble, data subset and bootstrap.
    - `float64`: run the quadratic part in float64 (needs jax x64; the evidence part always
      uses float64).
    - `workdir`: where the scaling part keeps its resumable sweep.
    - `on_part(key, index, total)`, `on_step(key, description)`,
      `on_sweep_progress(done, total, message)`: progress callbacks (the tour never prints).
    """
    chosen = check_parts(list(parts))
    start = time.perf_counter()
    results = []
    for index, key in enumerate(chosen):
        if on_part is not None:
            on_part(key, index, len(chosen))
        step = None if on_step is None else (lambda text, key=key: on_step(key, text))
        results.append(run_part(key, quick=quick, seed=seed, float64=float64, workdir=workdir,
                                on_step=step, on_sweep_progress=on_sweep_progress))
    return Tour(tuple(results), time.perf_counter() - start, device_name(), environment())
