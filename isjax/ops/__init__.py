"""Standalone JAX ops."""

from isjax.ops.inward_scaling import DEFAULT_EPS
from isjax.ops.inward_scaling import GRADIENT_MODES
from isjax.ops.inward_scaling import inward_scale
