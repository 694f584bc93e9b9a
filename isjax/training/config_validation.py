"""Checks of a training config, run before anything is built."""

import math

from isjax import ops


def _require(condition, message):
  if not condition:
    raise ValueError(message)


def validate_config(config):
  """Raise ValueError naming the first invalid field, its value and the fix."""
  for field in ("num_epochs", "batch_size", "log_every_steps",
                "eval_every_epochs", "checkpoint_every_epochs"):
    value = config[field]
    _require(isinstance(value, int) and value >= 1,
             f"config.{field} must be an integer >= 1, got {value!r}.")

  if config.get("max_steps") is not None:
    _require(config.max_steps >= 1,
             f"config.max_steps must be >= 1 or unset, got {config.max_steps}.")

  xi = config.model.xi
  _require(math.isfinite(xi) and xi > 0,
           f"config.model.xi must be a finite number > 0, got {xi!r}. "
           "The paper uses xi=100 (--config.model.xi=100).")
  _require(config.model.eps >= 0,
           f"config.model.eps must be >= 0, got {config.model.eps!r}.")
  _require(config.model.gradient in ops.GRADIENT_MODES,
           f"config.model.gradient must be one of {ops.GRADIENT_MODES}, "
           f"got {config.model.gradient!r}.")

  for field in ("softmax_weight", "contrastive_weight", "center_weight"):
    value = config.loss[field]
    _require(value >= 0, f"config.loss.{field} must be >= 0, got {value!r}.")
  _require(config.optimizer.learning_rate > 0,
           "config.optimizer.learning_rate must be > 0, got "
           f"{config.optimizer.learning_rate!r}.")
