r"""SimpleNet with IS(x, ξ) on the Urdu characters dataset (the paper's Table 4).

Paper: 77.76% with IS, 74.03% without (test accuracy). Lay the dataset out as
ROOT/<split>/<class>/<image> (64x64) and run

  python train.py --config configs/urdu_simplenet.py \
      --workdir runs/urdu_simplenet --config.dataset.data_dir=ROOT
"""

from configs import default
from configs import paper_reference


def get_config():
  """Return the Urdu characters + SimpleNet configuration."""
  config = default.get_config()
  # The full dataset affords wider blocks than the CPU default.
  config.model.conv_features = (32, 64, 128)
  config.batch_size = 128
  config.dataset.name = "image_folder"
  config.dataset.image_size = (64, 64)
  config.num_epochs = 30
  config.paper = paper_reference.create("Table 4", "urdu", 0.7776, 0.7403)
  return config
