"""GoogLeNet (Inception v1) with the shared IS head (the paper's Table 5)."""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from isjax.models.head import InwardScaleFields
from isjax.models.head import create_head

# Inception module widths from Szegedy et al. 2015, Table 1:
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection).
_INCEPTION_WIDTHS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class Inception(nn.Module):
  """One Inception module: four parallel branches concatenated on channels."""
  widths: tuple[int, int, int, int, int, int]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    conv1x1, reduce3, conv3, reduce5, conv5, pool_projection = self.widths

    def conv(features, size, inputs):
      return nn.relu(nn.Conv(features, (size, size), dtype=self.dtype)(inputs))

    branch1 = conv(conv1x1, 1, x)
    branch3 = conv(conv3, 3, conv(reduce3, 1, x))
    branch5 = conv(conv5, 5, conv(reduce5, 1, x))
    pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding="SAME")
    branch_pool = conv(pool_projection, 1, pooled)
    return jnp.concatenate([branch1, branch3, branch5, branch_pool], axis=-1)


class GoogLeNet(InwardScaleFields):
  """GoogLeNet for small images (e.g. CIFAR-100's 32x32), without auxiliary heads.

  The ImageNet stem (7x7 stride-2 conv and two stride-2 pools) is replaced by
  one 3x3 convolution with 192 channels, as is usual for 32x32 inputs. There is
  no batch norm, as in the original network. The 1,024 globally average-pooled
  channels are ``features``; the shared head follows.
  """
  embedding_dim: int = 1024

  @nn.compact
  def __call__(self, images):
    x = images.astype(self.dtype)
    x = nn.relu(nn.Conv(192, (3, 3), dtype=self.dtype, name="stem")(x))

    for stage, names in enumerate((("3a", "3b"), ("4a", "4b", "4c", "4d", "4e"),
                                   ("5a", "5b"))):
      if stage > 0:
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
      for name in names:
        x = Inception(_INCEPTION_WIDTHS[name], dtype=self.dtype,
                      name=f"inception{name}")(x)
    features = jnp.mean(x, axis=(1, 2))

    return {"features": features, **create_head(self)(features)}
