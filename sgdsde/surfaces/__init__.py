"""Loss surfaces behind one interface (loss, gradient, gradient-noise model)."""

from ._base import Surface as Surface
from ._double_well import DoubleWell as DoubleWell
from ._learned import LearnedSurface as LearnedSurface
from ._learned import learned_surface as learned_surface
from ._quadratic import Quadratic as Quadratic
from ._quadratic import haar_rotation as haar_rotation

__all__ = [
    "Surface", "Quadratic", "DoubleWell", "LearnedSurface", "learned_surface", "haar_rotation",
]
