r"""The retrieval setup of configs/fashion_mnist_retrieval.py with center loss.

Softmax + center loss (Wen et al. 2016) instead of contrastive loss; the
paper mentions center loss among the losses combined with IS(x, ξ) but reports
no number for it.

  python train.py --config configs/fashion_mnist_center.py \
      --workdir runs/fashion_center
"""

from configs import fashion_mnist_retrieval


def get_config():
  """Return the Fashion-MNIST center-loss configuration."""
  config = fashion_mnist_retrieval.get_config()
  config.loss.contrastive_weight = 0.0
  config.loss.center_weight = 0.01  # lambda of Wen et al.
  config.loss.center_alpha = 0.5
  return config
