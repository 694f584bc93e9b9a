r"""GoogLeNet with IS(x, ξ) on CIFAR-100 (the paper's Table 5).

Paper: 60.44% with IS, 59.23% without (test accuracy). A GPU run: GoogLeNet is
far too slow for a CPU.

  python train.py --config configs/cifar100_googlenet.py \
      --workdir runs/cifar100_googlenet
"""

from configs import default
from configs import paper_reference


def get_config():
  """Return the CIFAR-100 + GoogLeNet configuration."""
  config = default.get_config()
  config.dataset.name = "cifar100"
  config.model.name = "googlenet"
  config.model.embedding_dim = 1024
  config.num_epochs = 60
  config.paper = paper_reference.create("Table 5", "cifar100", 0.6044, 0.5923)
  return config
