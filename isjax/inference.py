"""`load_trained`: use a trained network from Python, without the data pipeline."""

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from isjax import models
from isjax.training import checkpointing

CONFIG_FILE = "config.json"


def _prepare_images(images, image_shape):
  """Return float32 NHWC images in [0, 1] from uint8 or float input."""
  images = np.asarray(images)
  if images.ndim == len(image_shape) and tuple(images.shape) == tuple(image_shape):
    images = images[None]  # A single image.
  if images.ndim == 3 and image_shape[-1] == 1:
    images = images[..., None]  # Grayscale without a channel axis.
  if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
    raise ValueError(
        f"Expected images of shape (N, {', '.join(map(str, image_shape))}) "
        f"(NHWC), got {images.shape}. The checkpoint was trained on "
        f"{tuple(image_shape)} images.")
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  if not np.issubdtype(images.dtype, np.floating):
    raise TypeError(
        f"Images must be uint8 in [0, 255] or float in [0, 1], got {images.dtype}.")
  if images.size and float(np.max(images)) > 1.0 + 1e-3:
    raise ValueError(
        f"Float images must be in [0, 1] (the training scale), got values up "
        f"to {float(np.max(images)):g}. Divide by 255, or pass uint8 images.")
  return images.astype(np.float32)


@dataclasses.dataclass
class TrainedModel:
  """A trained model restored from a workdir.

  Attributes:
    config: the run's config.
    step: the checkpoint's step.
    model: the linen module.
    params: the restored parameters.
    image_shape: (H, W, C) of the images it takes.
    class_names: the dataset's class names, in label order.
  """
  config: ml_collections.ConfigDict
  step: int
  model: Any
  params: Any
  image_shape: tuple[int, int, int]
  class_names: tuple[str, ...]

  def __post_init__(self):
    self._apply = jax.jit(lambda params, images: self.model.apply(
        {"params": params}, images))

  @property
  def output_names(self):
    """Names accepted by `embed(features=...)`."""
    return models.output_names(self.config.model)

  def apply(self, images, batch_size=1024):
    """Return every named output for `images` as NumPy arrays.

    Args:
      images: NHWC uint8 in [0, 255] or float in [0, 1].
      batch_size: images per forward pass; bounds memory for large inputs.
    """
    images = _prepare_images(images, self.image_shape)
    chunks = []
    for start in range(0, len(images), batch_size):
      chunk = images[start:start + batch_size]
      # Pad to a full batch so that every call reuses one compiled program.
      padding = batch_size - len(chunk) if len(images) > batch_size else 0
      padded = np.pad(chunk, ((0, padding), (0, 0), (0, 0), (0, 0)))
      outputs = jax.device_get(self._apply(self.params, jnp.asarray(padded)))
      chunks.append({name: value[:len(chunk)] for name, value in outputs.items()})
    return {name: np.concatenate([chunk[name] for chunk in chunks])
            for name in chunks[0]}

  def predict(self, images, batch_size=1024):
    """Return the logits [N, num_classes] for `images`."""
    return self.apply(images, batch_size)["logits"]

  def embed(self, images, features="embedding", batch_size=1024):
    """Return the named output `features` (default the embedding) for `images`."""
    if features not in self.output_names:
      raise ValueError(
          f"Unknown features {features!r}; this model produces "
          f"{list(self.output_names)}.")
    return self.apply(images, batch_size)[features]


def _read_config(workdir):
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"No {CONFIG_FILE} in {workdir}: it is not a training workdir. "
        "Train first with: python train.py --config configs/default.py "
        f"--workdir {workdir}")
  with open(path) as config_file:
    return ml_collections.ConfigDict(json.load(config_file))


def load_trained(workdir, step=None):
  """Restore a trained model from `workdir` (the latest checkpoint by default).

  Needs neither tensorflow nor the dataset: the image shape and class count
  are stored in the checkpoint's metadata.

  Args:
    workdir: a directory written by `train.py`.
    step: the checkpoint step to restore; None for the latest.

  Returns:
    A `TrainedModel` with `.predict(images)` and `.embed(images, features=...)`.

  Raises:
    FileNotFoundError: no config or no checkpoint in `workdir`.
    ValueError: `step` is not among the saved steps (the message lists them).
  """
  workdir = os.path.abspath(workdir)
  config = _read_config(workdir)
  if not os.path.isdir(checkpointing.checkpoint_directory(workdir)):
    raise FileNotFoundError(
        f"No checkpoints in {checkpointing.checkpoint_directory(workdir)}.")
  manager = checkpointing.create_checkpoint_manager(workdir, read_only=True)

  saved_steps = sorted(manager.all_steps())
  if not saved_steps:
    raise FileNotFoundError(
        f"No checkpoints in {checkpointing.checkpoint_directory(workdir)}.")
  if step is None:
    step = saved_steps[-1]
  elif step not in saved_steps:
    raise ValueError(
        f"No checkpoint for step {step} in "
        f"{checkpointing.checkpoint_directory(workdir)}; saved steps are "
        f"{saved_steps}.")

  metadata = checkpointing.restore_metadata(manager, step)
  image_shape = tuple(metadata["image_shape"])
  model = models.create_model(config.model, metadata["num_classes"])
  abstract_params = jax.eval_shape(
      lambda: model.init(jax.random.PRNGKey(0),
                         jnp.zeros((1, *image_shape), jnp.float32)))["params"]
  params = checkpointing.restore_params(manager, step, abstract_params)
  manager.close()
  return TrainedModel(
      config=config, step=step, model=model, params=params,
      image_shape=image_shape, class_names=tuple(metadata["class_names"]))
