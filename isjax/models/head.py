"""The classifier head that every isjax model shares, with the IS switch."""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from isjax import ops
from isjax.nn import InwardScale


class InwardScaleHead(nn.Module):
  """[IS(x, ξ)] -> dense -> PReLU -> dense to classes (the paper's Fig. 4 head).

  `use_inward_scale=False` drops IS and gives the paper's "without IS"
  baseline with otherwise identical parameters.

  Returns a dict of named outputs: ``inward_scaled`` (only with IS),
  ``embedding`` (after the first dense layer and PReLU) and ``logits``.
  """
  num_classes: int
  embedding_dim: int = 128
  use_inward_scale: bool = True
  xi: float = 100.0
  eps: float = ops.DEFAULT_EPS
  gradient: str = "appendix"
  dtype: Any = jnp.float32

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
      num_classes=model.num_classes,
      embedding_dim=model.embedding_dim,
      use_inward_scale=model.use_inward_scale,
      xi=model.xi,
      eps=model.eps,
      gradient=model.gradient,
      dtype=model.dtype,
      name="head")
