"""Run by the tests in a fresh process where importing tensorflow fails.

Usage: without_tensorflow.py [WORKDIR]. Uses the op, the layer, SimpleNet, the
losses and the kNN, and with WORKDIR also `isjax.load_trained`; prints "ok".
"""

import sys

# A None entry in sys.modules makes `import tensorflow` raise ImportError and
# importlib.util.find_spec return None, exactly as when it is not installed.
for blocked in ("tensorflow", "tensorflow_datasets"):
  sys.modules[blocked] = None

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

import isjax  # pylint: disable=g-import-not-at-top,wrong-import-position
from isjax import losses  # pylint: disable=g-import-not-at-top,wrong-import-position
from isjax import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from isjax import retrieval  # pylint: disable=g-import-not-at-top,wrong-import-position


def main():
  x = jnp.array([[3.0, 4.0]])
  np.testing.assert_allclose(isjax.inward_scale(x, 10.0, eps=0.0), [[0.06, 0.08]],
                             rtol=1e-6)
  assert np.all(np.isfinite(jax.grad(lambda v: isjax.inward_scale(v).sum())(x)))

  model = models.SimpleNet(num_classes=10, conv_features=(2, 2, 2))
  images = jnp.zeros((2, 28, 28, 1))
  outputs = model.apply(model.init(jax.random.PRNGKey(0), images), images)
  assert outputs["logits"].shape == (2, 10)

  labels = jnp.array([0, 1])
  assert np.isfinite(losses.contrastive_loss(outputs["embedding"], labels))
  _, indices = retrieval.nearest_neighbors(np.eye(3), np.eye(3), 1)
  assert np.asarray(indices)[:, 0].tolist() == [0, 1, 2]

  if len(sys.argv) > 1:
    trained = isjax.load_trained(sys.argv[1])
    assert trained.predict(np.zeros((1, 28, 28, 1), np.uint8)).shape == (1, 10)

  for name in ("tensorflow", "tensorflow_datasets", "clu"):
    assert sys.modules.get(name) is None, f"{name} was imported"
  print("ok")


if __name__ == "__main__":
  main()
