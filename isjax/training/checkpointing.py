"""Orbax checkpoints of a run under `<workdir>/checkpoints`.

Each checkpoint contains three items, so that inference can restore the
parameters alone: ``params``, ``train_state`` (optimizer state, step, RNG,
centre-loss centres, non-finite flag) and ``metadata`` (JSON: the model and
dataset facts needed to rebuild the model without the data pipeline, and the
data position). Orbax writes each checkpoint into a temporary directory and
renames it when complete, so an interrupted save leaves no partial checkpoint.
"""

import json
import os

import jax
import orbax.checkpoint as ocp

CHECKPOINT_DIR = "checkpoints"


class CheckpointMismatchError(ValueError):
  """The checkpoint in a workdir was written for a different model."""


def checkpoint_directory(workdir):
  return os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)


def create_checkpoint_manager(workdir, max_to_keep=3, read_only=False):
  """Return an Orbax `CheckpointManager` for `<workdir>/checkpoints`.

  With `read_only` the directory is not created. Callers that only restore
  pass it; Orbax's own read_only option is not used because it logs three
  warnings per manager (orbax-checkpoint 0.12).
  """
  options = ocp.CheckpointManagerOptions(
      max_to_keep=None if read_only else max_to_keep, create=not read_only)
  return ocp.CheckpointManager(checkpoint_directory(workdir), options=options)


def save_checkpoint(manager, state, metadata):
  """Save `state` at its step with `metadata`, and wait until it is written."""
  step = int(jax.device_get(state.step))
  params = state.params
  rest = state.replace(params=None)
  manager.save(
      step,
      args=ocp.args.Composite(
          params=ocp.args.StandardSave(params),
          train_state=ocp.args.StandardSave(rest),
          metadata=ocp.args.JsonSave(metadata)),
      force=True)
  manager.wait_until_finished()
  return step


def restore_metadata(manager, step):
  return manager.restore(
      step, args=ocp.args.Composite(metadata=ocp.args.JsonRestore()))["metadata"]


def restore_state(manager, step, abstract_state):
  """Restore the full `TrainState` of `step` onto the shardings of `abstract_state`.

  `abstract_state` is a `TrainState` of `jax.ShapeDtypeStruct`s with
  shardings, e.g. from `jax.eval_shape` of the jitted initialiser.
  """
  abstract_rest = abstract_state.replace(params=None)
  restored = manager.restore(
      step,
      args=ocp.args.Composite(
          params=ocp.args.StandardRestore(abstract_state.params),
          train_state=ocp.args.StandardRestore(abstract_rest)))
  return restored["train_state"].replace(params=restored["params"])


def restore_params(manager, step, abstract_params):
  return manager.restore(
      step,
      args=ocp.args.Composite(
          params=ocp.args.StandardRestore(abstract_params)))["params"]


def parameter_shapes(params):
  """Return {"path/to/leaf": [shape]} of a parameter tree, for comparisons."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  return {
      "/".join(str(getattr(key, "key", key)) for key in path): list(leaf.shape)
      for path, leaf in flat
  }


def check_compatible(saved_metadata, model_config, params_shapes, workdir):
  """Raise CheckpointMismatchError if the checkpoint is of a different model.

  Compares the saved model config and parameter shapes with the current ones
  and names the first fields that differ.
  """
  saved_model = saved_metadata.get("model_config", {})
  current_model = json.loads(json.dumps(model_config))
  differences = [
      f"model.{key}: checkpoint {saved_model.get(key)!r}, config "
      f"{current_model.get(key)!r}"
      for key in sorted(set(saved_model) | set(current_model))
      if saved_model.get(key) != current_model.get(key)
  ]
  if not differences and saved_metadata.get("param_shapes") != params_shapes:
    differences.append("parameter shapes differ (another dataset or image size?)")
  if differences:
    raise CheckpointMismatchError(
        f"The checkpoint in {checkpoint_directory(workdir)} was written by a "
        f"different model: {'; '.join(differences[:5])}. Use a new --workdir, "
        "or the config that the checkpoint was trained with (saved in "
        f"{os.path.join(workdir, 'config.json')}).")
