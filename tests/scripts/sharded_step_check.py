"""Run by test_training_steps.py through fake_devices.run_on_eight_devices.

Prints one JSON line with the differences between a training step on 8
devices and on 1 device, and the outcome of the batch-size check.
"""

import json

import chex
import jax
import numpy as np
import optax

from configs import default as default_config
from isjax import models
from isjax.training import sharding as sharding_lib
from isjax.training import steps as steps_lib
from isjax.training.train_state import create_train_state


def main():
  config = default_config.get_config()
  config.model.conv_features = (4, 8, 8)
  config.model.embedding_dim = 16
  config.loss.contrastive_weight = 0.5
  config.loss.center_weight = 0.1
  model = models.create_model(config.model, num_classes=10)
  # Plain SGD: Adam divides by the RMS of the gradient, which turns the
  # rounding differences of near-zero gradients into visible updates.
  schedule = optax.constant_schedule(0.1)
  optimizer = optax.sgd(schedule)

  rng = np.random.default_rng(0)
  batches = [{"image": rng.uniform(size=(16, 28, 28, 1)).astype(np.float32),
              "label": rng.integers(0, 10, size=16).astype(np.int32)}
             for _ in range(3)]

  results = {}
  for name, devices in (("one", jax.devices()[:1]), ("eight", jax.devices())):
    mesh = sharding_lib.create_mesh(devices)
    chex.clear_trace_counter()  # Count the traces of each mesh's step alone.
    state = jax.jit(
        lambda key: create_train_state(model, optimizer, key, (28, 28, 1), 10),
        out_shardings=sharding_lib.replicated_sharding(mesh))(
            jax.random.PRNGKey(0))

    @chex.assert_max_traces(n=1)
    def traced_step(state, batch):
      return steps_lib.train_step(state, batch, model=model, optimizer=optimizer,
                                  schedule=schedule, loss_config=config.loss)

    replicated = sharding_lib.replicated_sharding(mesh)
    step = jax.jit(traced_step,
                   in_shardings=(replicated, sharding_lib.batch_sharding(mesh)),
                   out_shardings=(replicated, replicated))
    losses = []
    for batch in batches:
      state, metrics = step(state, sharding_lib.shard_batch(batch, mesh))
      losses.append(float(metrics["train_loss"]))
    results[name] = (losses, jax.device_get(state))

  one_losses, one_state = results["one"]
  eight_losses, eight_state = results["eight"]
  parameter_difference = max(
      float(np.max(np.abs(a - b))) for a, b in zip(
          jax.tree.leaves(one_state.params), jax.tree.leaves(eight_state.params)))
  center_difference = float(np.max(np.abs(one_state.centers - eight_state.centers)))

  try:
    sharding_lib.validate_batch_size(12, sharding_lib.create_mesh())
    batch_error = ""
  except ValueError as error:
    batch_error = str(error)

  print(json.dumps({
      "device_count": jax.device_count(),
      "one_losses": one_losses,
      "eight_losses": eight_losses,
      "max_parameter_difference": parameter_difference,
      "max_center_difference": center_difference,
      "steps": int(eight_state.step),
      "batch_error": batch_error,
  }))


if __name__ == "__main__":
  with jax.threefry_partitionable(False):
    main()
