"""The jitted, sharded training and evaluation steps."""

import functools

import jax
import jax.numpy as jnp
import optax

from isjax.losses import center as center_losses
from isjax.losses import contrastive as contrastive_losses
from isjax.losses import softmax_cross_entropy
from isjax.training import sharding as sharding_lib


def compute_losses(outputs, batch, centers, loss_config):
  """Return (total loss, dict of the weighted parts) for one batch.

  total = softmax_weight * CE(logits) + contrastive_weight * contrastive(embedding)
          + center_weight * center(embedding, centers)
  Terms with weight 0 are not computed.
  """
  labels = batch["label"]
  mask = batch.get("mask")
  parts = {}
  if loss_config.softmax_weight:
    parts["softmax_loss"] = loss_config.softmax_weight * softmax_cross_entropy(
        outputs["logits"], labels, mask)
  if loss_config.contrastive_weight:
    parts["contrastive_loss"] = (
        loss_config.contrastive_weight * contrastive_losses.contrastive_loss(
            outputs["embedding"], labels,
            margin=loss_config.contrastive_margin, mask=mask))
  if loss_config.center_weight:
    parts["center_loss"] = loss_config.center_weight * center_losses.center_loss(
        outputs["embedding"], labels, centers, mask=mask)
  if not parts:
    raise ValueError(
        "Every loss weight in config.loss is 0; set softmax_weight, "
        "contrastive_weight or center_weight to a positive value.")
  return sum(parts.values()), parts


def _all_finite(tree):
  leaves = jax.tree.leaves(tree)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def train_step(state, batch, *, model, optimizer, schedule, loss_config):
  """Apply one optimizer step to `state` on a global `batch`.

  A step whose loss or gradient is not finite is not applied: the state keeps
  its last good values and records the step in `nonfinite_step`, which the
  training loop checks, so no host synchronisation is needed per step.

  Returns:
    (new state, dict of scalar metrics of this batch).
  """
  def loss_fn(params):
    outputs = model.apply({"params": params}, batch["image"])
    loss, parts = compute_losses(outputs, batch, state.centers, loss_config)
    return loss, (outputs, parts)

  (loss, (outputs, parts)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)

  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)

  centers = state.centers
  if loss_config.center_weight:
    centers = center_losses.update_centers(
        centers, jax.lax.stop_gradient(outputs["embedding"]), batch["label"],
        loss_config.center_alpha)

  healthy = (state.nonfinite_step < 0) & jnp.isfinite(loss) & _all_finite(grads)
  updated = state.replace(
      step=state.step + 1, params=params, opt_state=opt_state, centers=centers)
  new_state = jax.tree.map(
      lambda new, old: jnp.where(healthy, new, old), updated, state)
  first_failure = jnp.where(
      (state.nonfinite_step < 0) & ~healthy, state.step, state.nonfinite_step)
  new_state = new_state.replace(nonfinite_step=first_failure)

  predictions = jnp.argmax(outputs["logits"], axis=-1)
  metrics = {
      "train_loss": loss,
      "train_accuracy": jnp.mean(predictions == batch["label"]),
      "learning_rate": schedule(state.step),
      **{f"train_{name}": value for name, value in parts.items()},
  }
  return new_state, metrics


def eval_step(params, batch, *, model):
  """Return sums over the unmasked examples of a batch: loss, correct, count."""
  outputs = model.apply({"params": params}, batch["image"])
  logits = outputs["logits"]
  mask = batch["mask"].astype(jnp.float32)
  per_example = optax.softmax_cross_entropy_with_integer_labels(
      logits, batch["label"])
  correct = (jnp.argmax(logits, axis=-1) == batch["label"]).astype(jnp.float32)
  return {
      "loss_sum": jnp.sum(per_example * mask),
      "correct": jnp.sum(correct * mask),
      "count": jnp.sum(mask),
  }


def make_train_step(model, optimizer, schedule, loss_config, mesh):
  """Return `train_step` jitted once for the mesh (state donated)."""
  replicated = sharding_lib.replicated_sharding(mesh)
  step = functools.partial(
      train_step, model=model, optimizer=optimizer, schedule=schedule,
      loss_config=loss_config)
  return jax.jit(
      step,
      in_shardings=(replicated, sharding_lib.batch_sharding(mesh)),
      out_shardings=(replicated, replicated),
      donate_argnums=0)


def make_eval_step(model, mesh):
  """Return `eval_step` jitted for the mesh."""
  replicated = sharding_lib.replicated_sharding(mesh)
  return jax.jit(
      functools.partial(eval_step, model=model),
      in_shardings=(replicated, sharding_lib.batch_sharding(mesh)),
      out_shardings=replicated)
