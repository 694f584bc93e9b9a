"""SimpleNet (Fig. 4 of Janjua et al., arXiv:1810.07037)."""

from typing import Sequence

import flax.linen as nn

from isjax.models.head import InwardScaleFields
from isjax.models.head import create_head


class SimpleNet(InwardScaleFields):
  """Three [conv, conv, max-pool 2x2] blocks, flatten, IS, dense, PReLU, dense.

  As in the paper's Sec. 3.2 there is no activation between the convolutions,
  no batch norm and no dropout: the max-pools and the single PReLU are the only
  non-linearities. The paper gives no widths; `conv_features` defaults to the
  widths chosen for `configs/default.py`.

  Called on NHWC images in [0, 1], it returns a dict of named outputs:
  ``features`` (flattened, before IS), ``inward_scaled`` (IS output, only
  when `use_inward_scale`), ``embedding`` (after dense and PReLU) and
  ``logits``.
  """
  conv_features: Sequence[int] = (32, 64, 128)
  kernel_size: int = 3

  @nn.compact
  def __call__(self, images):
    x = images.astype(self.dtype)
    kernel = (self.kernel_size, self.kernel_size)
    for block, width in enumerate(self.conv_features):
      x = nn.Conv(width, kernel, dtype=self.dtype, name=f"conv{block + 1}_1")(x)
      x = nn.Conv(width, kernel, dtype=self.dtype, name=f"conv{block + 1}_2")(x)
      x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
    features = x.reshape((x.shape[0], -1))

    return {"features": features, **create_head(self)(features)}
