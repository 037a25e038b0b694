"""Loss surfaces behind the engine's one interface (:class:`sgdsde.surface.Surface`): loss,
gradient and gradient-noise model."""

from ..surface import Surface as Surface
from ._constant_noise import ConstantGaussianNoise as ConstantGaussianNoise
from ._double_well import DoubleWell as DoubleWell
from ._learned import METRICS as METRICS
from ._learned import LearnedSurface as LearnedSurface
from ._learned import learned_surface as learned_surface
from ._nqm import NoisyQuadratic as NoisyQuadratic
from ._quadratic import Quadratic as Quadratic
from ._quadratic import haar_rotation as haar_rotation
from ._svag import SVAG as SVAG
from ._svag import check_ell as check_ell
from ._svag import svag_coefficients as svag_coefficients

__all__ = [
    "METRICS", "ConstantGaussianNoise", "DoubleWell", "LearnedSurface", "Quadratic", "Surface",
    "haar_rotation", "learned_surface",
    "NoisyQuadratic", "SVAG", "check_ell", "svag_coefficients",
]
