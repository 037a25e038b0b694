"""The registry of Diffrax solvers an SDE may be integrated with, and what each can do.

What a solver supports is read from Diffrax's own types rather than from lists kept here: a
solver converges to the Stratonovich solution when it is a ``diffrax.AbstractStratonovichSolver``
(else to the Itô one), and it is valid for additive (constant) noise only when its stochastic
Butcher tableau says ``is_additive_noise``. Adding a solver is one registry entry.
"""

from __future__ import annotations

import diffrax

#: Solver name (as in configs and the CLI) → Diffrax solver class.
SOLVERS: dict[str, type[diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "spark": diffrax.SPaRK,
    "general_shark": diffrax.GeneralShARK,
    "slowrk": diffrax.SlowRK,
    "sra1": diffrax.SRA1,
    "shark": diffrax.ShARK,
    "sea": diffrax.SEA,
}


def make_solver(name: str) -> diffrax.AbstractSolver:
    """An instance of the registered solver `name`."""
    return SOLVERS[name]()


def default_solver(additive_noise: bool) -> str:
    """ShARK (weak order 2 for additive noise) when the noise is constant, else Euler (Itô)."""
    return "shark" if additive_noise else "euler"


def is_stratonovich(name: str) -> bool:
    """Whether the solver converges to the Stratonovich solution of an SDE."""
    return issubclass(SOLVERS[name], diffrax.AbstractStratonovichSolver)


def needs_additive_noise(name: str) -> bool:
    """Whether the solver is valid only for a diffusion that does not depend on the state."""
    tableau = getattr(make_solver(name), "tableau", None)
    return bool(getattr(tableau, "is_additive_noise", False))


def is_stochastic_runge_kutta(name: str) -> bool:
    """Stochastic Runge–Kutta solvers evaluate the diffusion at several stage times, as an
    explicit (state × noise) matrix."""
    return issubclass(SOLVERS[name], diffrax.AbstractSRK)
