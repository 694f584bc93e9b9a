"""The models and sizes the benchmarks measure, full size or tiny (tests)."""

import dataclasses

from configs import cifar10
from configs import default


@dataclasses.dataclass(frozen=True)
class TrainingCase:
  """A config to time the training step of, with the shape of its images."""
  name: str
  config: object  # ml_collections.ConfigDict
  image_shape: tuple
  num_classes: int


def _shrink(config):
  """Make a config's model and batch tiny, for tests of the benchmark code."""
  config.model.conv_features = (2, 2, 2)
  config.model.embedding_dim = 4
  config.batch_size = 8
  return config


def training_cases(tiny=False):
  """Return the default config's case, then the CIFAR-size SimpleNet's.

  Each comes with IS(x, ξ), as configured. `without_inward_scale` gives the
  baseline of the same model.
  """
  default_config = default.get_config()
  cifar_config = cifar10.get_config()
  if tiny:
    default_config = _shrink(default_config)
    cifar_config = _shrink(cifar_config)
  return [
      TrainingCase("default SimpleNet (mnist5k)", default_config, (28, 28, 1),
                   10),
      TrainingCase("CIFAR-size SimpleNet", cifar_config, (32, 32, 3), 10),
  ]


def without_inward_scale(case):
  """Return `case` with the IS layer switched off."""
  config = case.config.copy_and_resolve_references()
  config.model.use_inward_scale = False
  return dataclasses.replace(case, name=f"{case.name} without IS",
                             config=config)
