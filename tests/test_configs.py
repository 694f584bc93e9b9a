"""Every config loads, validates, builds its model and carries the paper's numbers."""

import glob
import importlib
import os

import jax
import jax.numpy as jnp
import pytest

from isjax import models
from isjax.training import config_validation

CONFIG_DIRECTORY = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
CONFIG_NAMES = sorted(
    os.path.basename(path)[:-3]
    for path in glob.glob(os.path.join(CONFIG_DIRECTORY, "*.py"))
    if not os.path.basename(path).startswith("_")
    and os.path.basename(path) != "paper_reference.py")

# Image shapes of the datasets the configs name (the datasets need TFDS data).
IMAGE_SHAPES = {"mnist5k": (28, 28, 1), "mnist": (28, 28, 1),
                "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3),
                "svhn_cropped": (32, 32, 3), "cifar100": (32, 32, 3),
                "image_folder": (64, 64, 1)}


def test_every_table_has_a_config():
  tables = set()
  for name in CONFIG_NAMES:
    tables.add(importlib.import_module(f"configs.{name}").get_config().paper.table)
  assert tables == {"Table 2", "Table 3", "Table 4", "Table 5", "Table 6"}


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_validates_and_builds_model(name):
  config = importlib.import_module(f"configs.{name}").get_config()
  config_validation.validate_config(config)

  model = models.create_model(config.model, num_classes=10)
  images = jnp.zeros((2, *IMAGE_SHAPES[config.dataset.name]))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), images)
  outputs = jax.eval_shape(model.apply, variables, images)
  assert outputs["logits"].shape == (2, 10)
  assert set(outputs) == set(models.output_names(config.model))


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_paper_numbers_are_fractions(name):
  paper = importlib.import_module(f"configs.{name}").get_config().paper
  numbers = []
  for key in ("eval_accuracy_with_is", "eval_accuracy_without_is"):
    if key in paper:
      numbers.append(paper[key])
  for key in ("retrieval_with_is", "retrieval_without_is"):
    if key in paper:
      numbers.extend(paper[key].values())
  assert numbers
  assert all(0.0 < number < 1.0 for number in numbers)
