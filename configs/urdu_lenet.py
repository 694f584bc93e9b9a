r"""LeNet with IS(x, ξ) on the Urdu characters dataset (the paper's Table 4).

Paper: 71.54% with IS, 70.02% without (test accuracy). The dataset is not in
TFDS: lay it out as ROOT/<split>/<class>/<image> (64x64) and run

  python train.py --config configs/urdu_lenet.py --workdir runs/urdu_lenet \
      --config.dataset.data_dir=ROOT
"""

from configs import default
from configs import paper_reference


def get_config():
  """Return the Urdu characters + LeNet configuration."""
  config = default.get_config()
  config.dataset.name = "image_folder"
  config.dataset.image_size = (64, 64)
  config.model.name = "lenet"
  config.model.embedding_dim = 84
  config.num_epochs = 30
  config.paper = paper_reference.create("Table 4", "urdu", 0.7154, 0.7002)
  return config
