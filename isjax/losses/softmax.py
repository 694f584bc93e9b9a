"""Softmax cross-entropy, the paper's supervision signal."""

import jax.numpy as jnp
import optax


def softmax_cross_entropy(logits, labels, mask=None):
  """Mean softmax cross-entropy over the unmasked examples.

  Args:
    logits: float array [batch, num_classes].
    labels: integer class ids [batch].
    mask: optional bool [batch]; False marks padding that must not count.

  Returns:
    A scalar: sum of per-example losses over unmasked rows / their count
    (0 when every row is masked).
  """
  per_example = optax.softmax_cross_entropy_with_integer_labels(
      logits.astype(jnp.float32), labels)
  if mask is None:
    return jnp.mean(per_example)

  weights = mask.astype(jnp.float32)
  return jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)
