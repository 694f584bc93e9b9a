"""`train_and_evaluate`: the training loop behind `train.py`."""

import functools
import json
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from isjax import models
from isjax.training import checkpointing
from isjax.training import config_validation
from isjax.training import metric_logging
from isjax.training import optimizers
from isjax.training import sharding as sharding_lib
from isjax.training import steps as steps_lib
from isjax.training.train_state import create_train_state

RESULTS_FILE = "results.json"
CONFIG_FILE = "config.json"


class NonFiniteLossError(FloatingPointError):
  """The loss or gradient stopped being finite during training."""


def evaluate(eval_step, params, dataset_config, split, global_batch_size, mesh):
  """Return {"eval_loss", "eval_accuracy", "eval_count"} over a whole split.

  Every example counts exactly once: the data pipeline pads the last batch and
  masks the padding.
  """
  from isjax import data  # pylint: disable=g-import-not-at-top

  totals = None
  for local_batch in data.create_eval_iterator(
      dataset_config, split=split, global_batch_size=global_batch_size):
    sums = eval_step(params, sharding_lib.shard_batch(local_batch, mesh))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)

  totals = jax.device_get(totals)
  count = float(totals["count"])
  return {
      "eval_loss": float(totals["loss_sum"]) / max(count, 1.0),
      "eval_accuracy": float(totals["correct"]) / max(count, 1.0),
      "eval_count": int(count),
  }


def _model_metadata(config, info, param_shapes, steps_per_epoch):
  return {
      "model_config": json.loads(config.model.to_json_best_effort()),
      "param_shapes": param_shapes,
      "num_classes": info.num_classes,
      "image_shape": list(info.image_shape),
      "class_names": list(info.class_names),
      "dataset_name": info.name,
      "steps_per_epoch": steps_per_epoch,
  }


def _write_json(path, content):
  """Write JSON atomically: a crash never leaves a half-written file."""
  temporary = path + ".tmp"
  with open(temporary, "w") as json_file:
    json.dump(content, json_file, indent=2, sort_keys=True)
    json_file.write("\n")
  os.replace(temporary, path)


def train_and_evaluate(config, workdir):
  """Train the configured model, evaluating and checkpointing once per epoch.

  Resumes from the latest checkpoint in `<workdir>/checkpoints` if there is
  one. Writes `config.json`, `metrics.jsonl`, TensorBoard events and, at the
  end, `results.json` into `workdir`.

  Args:
    config: a ConfigDict as in `configs/default.py`.
    workdir: directory for checkpoints and outputs (created if missing).

  Returns:
    The final `TrainState`.

  Raises:
    NonFiniteLossError: the loss or gradient stopped being finite; the last
      good checkpoint stays in the workdir.
    checkpointing.CheckpointMismatchError: the workdir contains a checkpoint of
      another model.
  """
  # Validate first: importing the data pipeline loads tensorflow (~15 s).
  config_validation.validate_config(config)
  from isjax import data  # pylint: disable=g-import-not-at-top

  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  is_main_process = jax.process_index() == 0

  mesh = sharding_lib.create_mesh()
  sharding_lib.validate_batch_size(config.batch_size, mesh)
  logging.info("Devices: %d (%s), processes: %d", jax.device_count(),
               jax.devices()[0].platform, jax.process_count())
  logging.info("Config:\n%s", config)

  info = data.get_dataset_info(config.dataset)
  steps_per_epoch = data.steps_per_epoch(
      info, config.dataset.train_split, config.batch_size)
  total_steps = config.num_epochs * steps_per_epoch
  logging.info("Dataset %s: %s examples, %d classes, images %s; %d steps/epoch.",
               info.name, info.num_examples, info.num_classes, info.image_shape,
               steps_per_epoch)

  model = models.create_model(config.model, info.num_classes)
  optimizer, schedule = optimizers.create_optimizer(
      config.optimizer, total_steps, steps_per_epoch)

  replicated = sharding_lib.replicated_sharding(mesh)
  initialize = jax.jit(
      functools.partial(create_train_state, model, optimizer,
                        image_shape=tuple(info.image_shape),
                        num_classes=info.num_classes),
      out_shardings=replicated)
  rng = jax.random.PRNGKey(config.seed)
  abstract_state = jax.eval_shape(initialize, rng)
  abstract_state = jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                        sharding=replicated), abstract_state)
  metadata = _model_metadata(
      config, info, checkpointing.parameter_shapes(abstract_state.params),
      steps_per_epoch)

  # Resume from the latest checkpoint, or start from scratch.
  manager = checkpointing.create_checkpoint_manager(
      workdir, config.max_checkpoints_to_keep)
  latest_step = manager.latest_step()
  if latest_step is not None:
    saved_metadata = checkpointing.restore_metadata(manager, latest_step)
    checkpointing.check_compatible(
        saved_metadata, config.model.to_dict(), metadata["param_shapes"],
        workdir)
    state = checkpointing.restore_state(manager, latest_step, abstract_state)
    logging.info("Resuming from the checkpoint of step %d in %s.",
                 latest_step, checkpointing.checkpoint_directory(workdir))
  else:
    state = initialize(rng)

  if is_main_process:
    _write_json(os.path.join(workdir, CONFIG_FILE), json.loads(
        config.to_json_best_effort()))

  start_step = int(jax.device_get(state.step))
  last_step = total_steps
  if config.get("max_steps") is not None:
    last_step = min(total_steps, config.max_steps)

  train_step = steps_lib.make_train_step(
      model, optimizer, schedule, config.loss, mesh)
  eval_step = steps_lib.make_eval_step(model, mesh)
  writer = metric_logging.MetricLogger(workdir)
  train_iterator = data.create_train_iterator(
      config.dataset, global_batch_size=config.batch_size, seed=config.seed,
      start_step=start_step)

  def save(state):
    epoch, step_in_epoch = divmod(int(jax.device_get(state.step)), steps_per_epoch)
    checkpointing.save_checkpoint(manager, state, {
        **metadata, "data_position": {"epoch": epoch,
                                      "step_in_epoch": step_in_epoch}})

  def check_finite(state):
    failed_step = int(jax.device_get(state.nonfinite_step))
    if failed_step >= 0:
      kept = manager.latest_step()
      raise NonFiniteLossError(
          f"The loss or gradient became non-finite at step {failed_step + 1} "
          f"(epoch {failed_step // steps_per_epoch + 1}). Training stopped; "
          f"the last good checkpoint (step {kept}) is kept in "
          f"{checkpointing.checkpoint_directory(workdir)}. Try a lower "
          "--config.optimizer.learning_rate or a different seed.")

  eval_metrics = {}
  if start_step < last_step:
    logging.info("Compiling the training step (the first step takes longer).")
  elif start_step >= total_steps:
    logging.info("Training already finished (step %d/%d); evaluating the final "
                 "checkpoint.", start_step, total_steps)
  # Metrics are summed on the device over each logging interval (no host
  # synchronisation per step); throughput leaves out compilation and evaluation.
  interval_sums = None
  interval_count = 0
  timed_steps = 0
  interval_start_time = run_start_time = time.perf_counter()
  first_timed_step = start_step + 1

  for step in range(start_step + 1, last_step + 1):
    batch = sharding_lib.shard_batch(next(train_iterator), mesh)
    state, metrics = train_step(state, batch)
    interval_sums = metrics if interval_sums is None else jax.tree.map(
        jnp.add, interval_sums, metrics)
    interval_count += 1
    timed_steps += 1

    if step == start_step + 1:
      # Time throughput and ETA from the end of the compiling first step.
      jax.block_until_ready(state)
      logging.info("First step done (compilation included) in %.1f s.",
                   time.perf_counter() - run_start_time)
      interval_start_time = run_start_time = time.perf_counter()
      timed_steps = 0

    epoch_done = step % steps_per_epoch == 0
    epoch = (step - 1) // steps_per_epoch + 1
    if step % config.log_every_steps == 0 or epoch_done or step == last_step:
      check_finite(state)
      averages = {name: float(value) / interval_count
                  for name, value in jax.device_get(interval_sums).items()}
      elapsed = time.perf_counter() - interval_start_time
      images_per_second = timed_steps * config.batch_size / max(elapsed, 1e-9)
      seconds_per_step = (time.perf_counter() - run_start_time) / max(
          step - first_timed_step, 1)
      writer.write(step, {**averages, "epoch": epoch,
                          "images_per_second": images_per_second})
      if is_main_process:
        metric_logging.log_progress(
            step, total_steps, epoch, config.num_epochs, averages,
            images_per_second, seconds_per_step * (last_step - step))
      interval_sums = None
      interval_count = timed_steps = 0
      interval_start_time = time.perf_counter()

    is_final = step == last_step
    if (epoch_done and epoch % config.eval_every_epochs == 0) or (
        is_final and step == total_steps):
      eval_metrics = evaluate(eval_step, state.params, config.dataset,
                              config.dataset.eval_split, config.batch_size, mesh)
      writer.write(step, {**eval_metrics, "epoch": epoch})
      logging.info("epoch %d  eval_loss %.4f  eval_accuracy %.2f%% (%d examples)",
                   epoch, eval_metrics["eval_loss"],
                   100 * eval_metrics["eval_accuracy"], eval_metrics["eval_count"])
      interval_start_time = time.perf_counter()
      timed_steps = 0
    if (epoch_done and epoch % config.checkpoint_every_epochs == 0) or is_final:
      save(state)

  writer.flush()
  if last_step < total_steps:
    logging.info(
        "Stopped at step %d of %d (config.max_steps); the checkpoint is saved. "
        "Run again without --config.max_steps to continue.", last_step,
        total_steps)
  if last_step == total_steps:
    if not eval_metrics:  # Resumed a finished run: evaluate its final state.
      eval_metrics = evaluate(eval_step, state.params, config.dataset,
                              config.dataset.eval_split, config.batch_size, mesh)
    results = {"step": total_steps, "epoch": config.num_epochs, **eval_metrics}
    paper = config.get("paper")
    if paper is not None:
      results["paper"] = paper.to_dict()
      # The accuracy that config.paper reports for this setting, beside ours.
      # Retrieval configs carry retrieval metrics instead (see eval_retrieval.py).
      setting = ("eval_accuracy_with_is" if config.model.use_inward_scale
                 else "eval_accuracy_without_is")
      if setting in paper:
        results["paper_eval_accuracy"] = paper[setting]
    if is_main_process:
      _write_json(os.path.join(workdir, RESULTS_FILE), results)
    paper_note = ""
    if "paper_eval_accuracy" in results:
      paper_note = (f" (the paper reports {100 * results['paper_eval_accuracy']:.2f}%"
                    f" on {results['paper']['dataset']}, {results['paper']['table']})")
    logging.info("Finished: eval_accuracy %.2f%%%s; results in %s",
                 100 * results["eval_accuracy"], paper_note,
                 os.path.join(workdir, RESULTS_FILE))
  writer.close()
  manager.close()
  return state
