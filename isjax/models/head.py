"""The classifier head that every isjax model shares, with the IS switch."""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from isjax import ops
from isjax.nn import InwardScale


class InwardScaleFields(nn.Module):
  """The fields of the shared head, declared once for the head and every model.

  Attributes:
    num_classes: size of the classifier output.
    embedding_dim: width of the dense layer after IS (the ``embedding``).
    use_inward_scale: False drops IS and gives the paper's "without IS"
      baseline with otherwise identical parameters.
    xi: the inward scale factor ξ > 0 (not trained).
    eps: E >= 0 under the square root of IS.
    gradient: ``"appendix"`` or ``"exact"`` (see `isjax.inward_scale`).
    dtype: the computation dtype.
  """
  num_classes: int
  embedding_dim: int = 128
  use_inward_scale: bool = True
  xi: float = 100.0
  eps: float = ops.DEFAULT_EPS
  gradient: str = "appendix"
  dtype: Any = jnp.float32


_HEAD_FIELDS = ("num_classes", "embedding_dim", "use_inward_scale", "xi", "eps",
                "gradient", "dtype")


class InwardScaleHead(InwardScaleFields):
  """[IS(x, ξ)] -> dense -> PReLU -> dense to classes (the paper's Fig. 4 head).

  Returns a dict of named outputs: ``inward_scaled`` (only with IS),
  ``embedding`` (after the first dense layer and PReLU) and ``logits``.
  """

  @nn.compact
  def __call__(self, features):
    outputs = {}
    x = features
    if self.use_inward_scale:
      x = InwardScale(xi=self.xi, eps=self.eps, gradient=self.gradient)(x)
      outputs["inward_scaled"] = x

    x = nn.Dense(self.embedding_dim, dtype=self.dtype, name="embedding_dense")(x)
    x = nn.PReLU(name="prelu")(x)
    outputs["embedding"] = x

    logits = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier")(x)
    outputs["logits"] = logits.astype(jnp.float32)
    return outputs


def create_head(model):
  """Return the `InwardScaleHead` configured by a model's IS fields.

  Call it inside the model's compact `__call__`, so that the head becomes the
  model's submodule named ``head``.
  """
  return InwardScaleHead(
      **{field: getattr(model, field) for field in _HEAD_FIELDS}, name="head")
