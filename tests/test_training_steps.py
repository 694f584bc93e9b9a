"""Tests of the sharded training step, the optimizer and the loss guard."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default as default_config
from fake_devices import run_on_eight_devices
from isjax import models
from isjax.training import optimizers
from isjax.training import sharding as sharding_lib
from isjax.training import steps as steps_lib
from isjax.training.train_state import create_train_state

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def sharded_step_result():
  completed = run_on_eight_devices(
      [os.path.join(REPOSITORY, "tests", "scripts", "sharded_step_check.py")])
  assert completed.returncode == 0, completed.stderr[-3000:]
  return json.loads(completed.stdout.strip().splitlines()[-1])


def test_eight_devices_match_one_device(sharded_step_result):
  assert sharded_step_result["device_count"] == 8
  assert sharded_step_result["steps"] == 3
  np.testing.assert_allclose(sharded_step_result["eight_losses"],
                             sharded_step_result["one_losses"], rtol=1e-5)
  assert sharded_step_result["max_parameter_difference"] < 1e-5
  assert sharded_step_result["max_center_difference"] < 1e-5


def test_batch_size_not_divisible_by_devices(sharded_step_result):
  message = sharded_step_result["batch_error"]
  assert "batch_size (12)" in message
  assert "number of devices (8)" in message


def small_setup(**optimizer_overrides):
  config = default_config.get_config()
  config.model.conv_features = (2, 4, 4)
  config.model.embedding_dim = 8
  for name, value in optimizer_overrides.items():
    config.optimizer[name] = value
  model = models.create_model(config.model, num_classes=10)
  optimizer, schedule = optimizers.create_optimizer(config.optimizer, 100, 10)
  state = jax.jit(lambda key: create_train_state(
      model, optimizer, key, (28, 28, 1), 10))(jax.random.PRNGKey(0))
  mesh = sharding_lib.create_mesh(jax.devices()[:1])
  step = steps_lib.make_train_step(model, optimizer, schedule, config.loss, mesh)
  rng = np.random.default_rng(0)
  batch = {"image": rng.uniform(size=(8, 28, 28, 1)).astype(np.float32),
           "label": rng.integers(0, 10, size=8).astype(np.int32)}
  return state, step, sharding_lib.shard_batch(batch, mesh)


def test_nonfinite_step_keeps_last_good_state():
  state, step, batch = small_setup(learning_rate=1e30, schedule="constant")
  states = []
  for _ in range(4):
    state, _ = step(state, batch)
    states.append(jax.device_get(state))
  # Step 1 applies an enormous update, so a later loss is not finite.
  failed = int(states[-1].nonfinite_step)
  assert failed >= 1
  assert int(states[-1].step) == failed
  last_good = states[failed - 1]
  for good_leaf, last_leaf in zip(jax.tree.leaves(last_good.params),
                                  jax.tree.leaves(states[-1].params)):
    assert np.all(np.isfinite(good_leaf))
    np.testing.assert_array_equal(good_leaf, last_leaf)


def test_coupled_weight_decay_adds_l2_gradient():
  # With zero gradient, coupled decay feeds weight_decay * w into Adam, whose
  # first step is -lr * sign(w); decoupled AdamW subtracts lr * wd * w.
  params = {"w": jnp.array([2.0, -3.0])}
  zero_grads = {"w": jnp.zeros(2)}
  config = default_config.get_config().optimizer
  config.schedule = "constant"
  config.weight_decay = 0.1
  config.weight_decay_mode = "coupled"
  coupled, _ = optimizers.create_optimizer(config, 10, 1)
  updates, _ = coupled.update(zero_grads, coupled.init(params), params)
  np.testing.assert_allclose(updates["w"], [-1e-2, 1e-2], rtol=1e-4)

  config.weight_decay_mode = "decoupled"
  decoupled, _ = optimizers.create_optimizer(config, 10, 1)
  updates, _ = decoupled.update(zero_grads, decoupled.init(params), params)
  np.testing.assert_allclose(updates["w"], [-2e-3, 3e-3], rtol=1e-5)


def test_unknown_schedule_and_decay_mode():
  config = default_config.get_config().optimizer
  config.schedule = "linear"
  with pytest.raises(ValueError, match="valid schedules are"):
    optimizers.create_optimizer(config, 10, 1)
  config.schedule = "cosine"
  config.weight_decay_mode = "l1"
  with pytest.raises(ValueError, match="'l1'; valid modes are"):
    optimizers.create_optimizer(config, 10, 1)
