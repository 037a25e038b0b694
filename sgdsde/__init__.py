"""sgdsde: stochastic gradient descent as a stochastic differential equation.

One surface feeds two simulators, discrete heavy-ball SGD (optax) and its SDE models (Diffrax),
which are compared with each other and with the closed forms of :mod:`sgdsde.theory`.
"""

__version__ = "0.1.0"

from . import theory as theory
from .config import RunConfig as RunConfig
from .config import SDEConfig as SDEConfig
from .results import EnsembleRun as EnsembleRun
from .sde import simulate_sde as simulate_sde
from .sde_models import FirstOrderSME as FirstOrderSME
from .sde_models import SecondOrderSME as SecondOrderSME
from .sde_models import UnderdampedSDE as UnderdampedSDE
from .sgd import simulate_sgd as simulate_sgd
from .surfaces import DoubleWell as DoubleWell
from .surfaces import LearnedSurface as LearnedSurface
from .surfaces import Quadratic as Quadratic
from .surfaces import Surface as Surface
from .surfaces import learned_surface as learned_surface

__all__ = [
    "__version__", "theory", "RunConfig", "SDEConfig", "EnsembleRun", "simulate_sde",
    "simulate_sgd", "FirstOrderSME", "SecondOrderSME", "UnderdampedSDE", "DoubleWell",
    "Quadratic", "Surface", "LearnedSurface", "learned_surface",
]
