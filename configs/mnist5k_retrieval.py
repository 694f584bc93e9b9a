r"""The paper's retrieval setup on the embedded mnist5k dataset (offline, CPU).

configs/fashion_mnist_retrieval.py needs Fashion-MNIST from TFDS; this variant
trains softmax + contrastive loss on mnist5k and runs anywhere.

  python train.py --config configs/mnist5k_retrieval.py \
      --workdir runs/mnist5k_retrieval
  python eval_retrieval.py --workdir runs/mnist5k_retrieval
"""

from configs import default
from configs import fashion_mnist_retrieval


def get_config():
  """Return the offline retrieval configuration."""
  config = default.get_config()
  paper_setup = fashion_mnist_retrieval.get_config()
  config.loss = paper_setup.loss
  config.paper = paper_setup.paper
  return config
