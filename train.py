r"""Train a model from a config file.

  python train.py --config configs/default.py --workdir runs/default
  python train.py --config configs/default.py --workdir runs/no_is \
      --config.model.use_inward_scale=False

Running again with the same --workdir resumes from its latest checkpoint.
"""

import importlib.util
import sys

from absl import app
from absl import flags
import jax
import ml_collections
from ml_collections import config_flags

from isjax.training import metric_logging
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


def _find_unknown_override(argv):
  """Return a message naming the first --config.* override of a missing field."""
  config_path = None
  for index, argument in enumerate(argv):
    if argument == "--config" and index + 1 < len(argv):
      config_path = argv[index + 1]
    elif argument.startswith("--config="):
      config_path = argument.split("=", 1)[1]
  if config_path is None:
    return None
  spec = importlib.util.spec_from_file_location("_config_file", config_path)
  config_module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(config_module)
  config = config_module.get_config()

  for argument in argv:
    if not argument.startswith("--config."):
      continue
    path = argument[len("--config."):].split("=", 1)[0]
    node, walked = config, "config"
    for field in path.split("."):
      if not isinstance(node, ml_collections.ConfigDict) or field not in node:
        valid = sorted(node.keys()) if isinstance(
            node, ml_collections.ConfigDict) else []
        return (f"Unknown config field {walked}.{field} in --config.{path}; "
                f"{walked} has the fields {valid}.")
      node, walked = node[field], f"{walked}.{field}"
  return None


def _parse_flags(argv):
  """Parse the flags, reporting an unknown --config.* field in one line."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as error:
    message = _find_unknown_override(argv) or f"Invalid --config override: {error}"
    sys.exit(f"FATAL: {message}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  metric_logging.hide_checkpointer_info_logs()
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
