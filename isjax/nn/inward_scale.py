"""Flax linen wrapper of the inward scale op."""

import flax.linen as nn

from isjax import ops


class InwardScale(nn.Module):
  """Inward scale layer IS(x, ξ) = x / (ξ sqrt(Σx² + E)) (the paper's Eq. 2).

  A parameter-free module around `isjax.inward_scale`; see that function for
  the formula, both gradient conventions and the numerics.

  Attributes:
    xi: the inward scale factor ξ > 0 (not trained; the paper uses 100).
    eps: E >= 0 under the square root.
    axis: the feature axis.
    gradient: ``"appendix"`` (the paper's Appendix B form) or ``"exact"``.
  """
  xi: float = 100.0
  eps: float = ops.DEFAULT_EPS
  axis: int = -1
  gradient: str = "appendix"

  @nn.compact
  def __call__(self, x):
    return ops.inward_scale(
        x, self.xi, eps=self.eps, axis=self.axis, gradient=self.gradient)
