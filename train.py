r"""Train a model from a config file.

  python train.py --config configs/default.py --workdir runs/default
  python train.py --config configs/default.py --workdir runs/no_is \
      --config.model.use_inward_scale=False

Running again with the same --workdir resumes from its latest checkpoint.
"""

import logging as python_logging

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from isjax.training import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Training configuration file (configs/*.py).",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory for checkpoints, metrics and results.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False,
    "Call jax.distributed.initialize() first, for runs over several hosts.")
flags.mark_flags_as_required(["config", "workdir"])


class _HideCheckpointerInfo(python_logging.Filter):
  """Drop Orbax's INFO lines (about 40 per checkpoint); keep its warnings."""

  def filter(self, record):
    return record.levelno > python_logging.INFO or "orbax" not in record.pathname


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  logging.get_absl_handler().addFilter(_HideCheckpointerInfo())
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
