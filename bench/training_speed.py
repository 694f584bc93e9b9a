"""Images per second of the jitted, sharded training step, fed from NumPy.

The step is the one `train.py` runs (`isjax.training.steps.make_train_step`),
built from a config's model, optimizer and loss, on a mesh over all devices.
Its batches are random images prepared in advance and already on the devices,
so the figure is the step alone: no input pipeline and no TensorFlow, which is
also why it runs where TensorFlow is not installed.
"""

import functools
import time

import jax
import numpy as np

from bench import timing
from isjax import models
from isjax.training import optimizers
from isjax.training import sharding as sharding_lib
from isjax.training import steps as steps_lib
from isjax.training.train_state import create_train_state

# The schedule's length only shapes the learning rate, not the step's cost.
_SCHEDULE_STEPS = 10_000
_DISTINCT_BATCHES = 4


def _random_batches(batch_size, image_shape, num_classes, mesh):
  """Return a few distinct global batches of random images, on the mesh."""
  rng = np.random.default_rng(0)
  batches = []
  for _ in range(_DISTINCT_BATCHES):
    local_batch = {
        "image": rng.random((batch_size, *image_shape), np.float32),
        "label": rng.integers(0, num_classes, batch_size).astype(np.int32),
    }
    batches.append(sharding_lib.shard_batch(local_batch, mesh))
  return batches


def measure_training_step(config, *, image_shape, num_classes, steps=50,
                          repeats=3):
  """Measure the training step of `config` on all devices.

  Args:
    config: a ConfigDict as in `configs/default.py`; reads model, optimizer,
      loss and batch_size.
    image_shape: (height, width, channels) of the images.
    num_classes: number of classes.
    steps: steps per timed repetition.
    repeats: timed repetitions; the fastest is reported.

  Returns:
    A dict with "images_per_second", "step_ms", "compile_seconds" (trace,
    lower and compile of the step), "flops_per_step" (XLA's count, or None),
    "batch_size" and "devices".
  """
  mesh = sharding_lib.create_mesh()
  sharding_lib.validate_batch_size(config.batch_size, mesh)
  model = models.create_model(config.model, num_classes)
  optimizer, schedule = optimizers.create_optimizer(
      config.optimizer, _SCHEDULE_STEPS, _SCHEDULE_STEPS)
  initialize = jax.jit(
      functools.partial(create_train_state, model, optimizer,
                        image_shape=tuple(image_shape), num_classes=num_classes),
      out_shardings=sharding_lib.replicated_sharding(mesh))
  state = initialize(jax.random.PRNGKey(0))
  batches = _random_batches(config.batch_size, image_shape, num_classes, mesh)

  train_step = steps_lib.make_train_step(
      model, optimizer, schedule, config.loss, mesh)
  compiled, compile_seconds = timing.timed_compile(
      train_step, state, batches[0])

  # The state is donated to each step, so it is threaded through the calls.
  def run_steps(state):
    for step in range(steps):
      state, _ = compiled(state, batches[step % len(batches)])
    return jax.block_until_ready(state)

  state = run_steps(state)  # Warm-up: first-touch allocations, thread pools.
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    state = run_steps(state)
    times.append(time.perf_counter() - start)
  step_seconds = min(times) / steps

  return {
      "images_per_second": config.batch_size / step_seconds,
      "step_ms": 1e3 * step_seconds,
      "compile_seconds": compile_seconds,
      "flops_per_step": timing.compiled_flops(compiled),
      "batch_size": config.batch_size,
      "devices": jax.device_count(),
  }
