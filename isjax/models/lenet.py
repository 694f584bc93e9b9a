"""LeNet-5 with the shared IS head (the paper's Table 4 baseline)."""

import flax.linen as nn

from isjax.models.head import InwardScaleFields
from isjax.models.head import create_head


class LeNet(InwardScaleFields):
  """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling.

  conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> dense 120 = ``features``, then
  the shared head: [IS] -> dense `embedding_dim` (84 in LeNet-5) -> PReLU ->
  dense to classes. Returns the same named outputs as `SimpleNet`.
  """
  embedding_dim: int = 84

  @nn.compact
  def __call__(self, images):
    x = images.astype(self.dtype)
    x = nn.relu(nn.Conv(6, (5, 5), padding="VALID", dtype=self.dtype)(x))
    x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = nn.relu(nn.Conv(16, (5, 5), padding="VALID", dtype=self.dtype)(x))
    x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    features = nn.relu(nn.Dense(120, dtype=self.dtype)(x))

    return {"features": features, **create_head(self)(features)}
