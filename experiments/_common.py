"""What every experiment script shares: its command line and its outputs.

Each script is one claim: parameters at the top, ``--scale small|full`` (small by default),
``--out DIR``; it writes a JSON file of every number (strict JSON, NaN as null) and its figures
into DIR, and prints one line per claim saying whether it held.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sgdsde import write_json
from sgdsde.plots import save_figure


def parse_args(doc: str, scales: Iterable[str], default_out: str,
               extra: Iterable[tuple[tuple[str, ...], dict[str, Any]]] = ()) -> argparse.Namespace:
    """``--scale`` (one of `scales`, default small) and ``--out`` (created), plus `extra`
    arguments as (flags, add_argument keywords)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(scales), default="small")
    parser.add_argument("--out", type=Path, default=Path(default_out))
    for flags, options in extra:
        parser.add_argument(*flags, **options)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def write_outputs(out: Path, name: str, record: Mapping[str, Any],
                  figures: Mapping[str, Any] = {}) -> None:
    """`record` as ``out/<name>.json`` and each figure as ``out/<stem>.png``."""
    write_json(out / f"{name}.json", record)
    for stem, figure in figures.items():
        save_figure(figure, out / f"{stem}.png")


def print_claims(claims: Iterable[Mapping[str, Any]], seconds: float, out: Path) -> None:
    """One line per claim (``[held]``/``[FAILED]``, the statement, what was measured) and a
    summary line."""
    claims = list(claims)
    for claim in claims:
        print(f"[{'held' if claim['held'] else 'FAILED'}] {claim['statement']}: "
              f"{claim['measured']}")
    print(f"{sum(bool(c['held']) for c in claims)}/{len(claims)} claims held "
          f"({seconds:.0f} s); numbers and figures in {out}")
