r"""Print the training-step measurement on this process's devices as JSON.

Started by `device_scaling.measure_device_scaling` with XLA_FLAGS set to the
device count:

  XLA_FLAGS=--xla_force_host_platform_device_count=4 JAX_PLATFORMS=cpu \
      python -m bench.device_scaling_worker --devices=4
"""

import json

from absl import app
from absl import flags
import jax

from bench import cases
from bench import training_speed

_DEVICES = flags.DEFINE_integer("devices", 1, "Expected number of devices.")
_STEPS = flags.DEFINE_integer("steps", 50, "Steps per timed repetition.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions.")
_TINY = flags.DEFINE_bool("tiny", False, "Use the tiny model of the tests.")


def main(argv):
  del argv
  if jax.device_count() != _DEVICES.value:
    raise RuntimeError(
        f"Expected {_DEVICES.value} devices but JAX sees "
        f"{jax.device_count()}. Set XLA_FLAGS="
        f"--xla_force_host_platform_device_count={_DEVICES.value} and "
        "JAX_PLATFORMS=cpu, as device_scaling.measure_device_scaling does.")
  case = cases.training_cases(tiny=_TINY.value)[0]
  result = training_speed.measure_training_step(
      case.config, image_shape=case.image_shape, num_classes=case.num_classes,
      steps=_STEPS.value, repeats=_REPEATS.value)
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
