"""Tests of the models and the InwardScale layer."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from isjax import InwardScale
from isjax import models
from configs import default as default_config


def init_and_apply(model, image_shape, batch=2, seed=0):
  images = jax.random.uniform(jax.random.PRNGKey(seed), (batch, *image_shape))
  variables = model.init(jax.random.PRNGKey(1), images)
  return variables, model.apply(variables, images)


def test_inward_scale_layer_has_no_parameters():
  variables = InwardScale(xi=10.0).init(jax.random.PRNGKey(0), jnp.ones((2, 4)))
  assert jax.tree.leaves(variables) == []


def test_inward_scale_layer_output_norm_is_one_over_xi():
  x = jax.random.normal(jax.random.PRNGKey(0), (5, 16)) * 30
  output = InwardScale(xi=20.0).apply({}, x)
  np.testing.assert_allclose(np.linalg.norm(output, axis=-1), 1 / 20, rtol=1e-5)


def test_simplenet_named_outputs_and_shapes():
  model = models.SimpleNet(num_classes=10)
  _, outputs = init_and_apply(model, (28, 28, 1))
  # 28 -> 14 -> 7 -> 3 after three 2x2 max-pools, times 128 channels.
  assert outputs["features"].shape == (2, 3 * 3 * 128)
  assert outputs["inward_scaled"].shape == (2, 1152)
  assert outputs["embedding"].shape == (2, 128)
  assert outputs["logits"].shape == (2, 10)


def test_simplenet_inward_scaled_is_is_of_features():
  model = models.SimpleNet(num_classes=10, conv_features=(4, 8, 8), xi=100.0)
  _, outputs = init_and_apply(model, (28, 28, 1))
  features = np.asarray(outputs["features"], np.float64)
  expected = features / (100.0 * np.sqrt(
      np.sum(features**2, axis=-1, keepdims=True) + 1e-12))
  np.testing.assert_allclose(outputs["inward_scaled"], expected, rtol=1e-5)


def test_simplenet_without_is_same_parameters_no_is_output():
  with_is = models.SimpleNet(num_classes=10, conv_features=(4, 8, 8))
  without_is = models.SimpleNet(num_classes=10, conv_features=(4, 8, 8),
                                use_inward_scale=False)
  variables, _ = init_and_apply(with_is, (28, 28, 1))
  _, outputs = init_and_apply(without_is, (28, 28, 1))
  assert "inward_scaled" not in outputs
  shapes = lambda tree: jax.tree.map(jnp.shape, tree)
  assert shapes(without_is.init(jax.random.PRNGKey(1), jnp.ones((1, 28, 28, 1)))) == (
      shapes(variables))


def test_simplenet_layers_follow_paper_figure():
  variables, _ = init_and_apply(models.SimpleNet(num_classes=10), (28, 28, 1))
  params = variables["params"]
  convolutions = sorted(name for name in params if name.startswith("conv"))
  assert convolutions == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1",
                          "conv3_2"]
  assert sorted(params["head"]) == ["classifier", "embedding_dense", "prelu"]
  # A single PReLU slope, as in the paper's figure.
  assert params["head"]["prelu"]["negative_slope"].shape == ()


def test_lenet_shapes():
  _, outputs = init_and_apply(models.LeNet(num_classes=40), (64, 64, 1))
  assert outputs["features"].shape == (2, 120)
  assert outputs["embedding"].shape == (2, 84)
  assert outputs["logits"].shape == (2, 40)


def test_googlenet_shapes():
  model = models.GoogLeNet(num_classes=100, embedding_dim=256)
  images = jnp.zeros((2, 32, 32, 3))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), images)
  outputs = jax.eval_shape(model.apply, variables, images)
  assert outputs["features"].shape == (2, 1024)
  assert outputs["inward_scaled"].shape == (2, 1024)
  assert outputs["embedding"].shape == (2, 256)
  assert outputs["logits"].shape == (2, 100)


def test_create_model_from_default_config():
  config = default_config.get_config()
  model = models.create_model(config.model, num_classes=10)
  assert isinstance(model, models.SimpleNet)
  assert model.conv_features == (8, 16, 32)
  assert model.xi == 100.0
  assert models.output_names(config.model) == (
      "features", "inward_scaled", "embedding", "logits")


def test_create_model_unknown_name():
  config = ml_collections.ConfigDict({"name": "resnet", "xi": 100.0})
  with pytest.raises(ValueError, match=r"Unknown model name 'resnet'.*googlenet"):
    models.create_model(config, 10)


def test_create_model_rejects_nonpositive_xi():
  config = default_config.get_config().model
  config.xi = 0.0
  with pytest.raises(ValueError, match="model.xi must be > 0, got 0.0"):
    models.create_model(config, 10)
