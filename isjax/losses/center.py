"""Center loss and its class-centre update rule (Wen et al. 2016).

Reference: Y. Wen, K. Zhang, Z. Li, Y. Qiao, "A Discriminative Feature
Learning Approach for Deep Face Recognition", ECCV 2016.

The centres are state, not parameters: the loss gives them no gradient, and
``update_centers`` moves them after each step with the rule of the paper.
Both functions are pure and work inside ``jax.jit``, also with the batch
sharded over devices.
"""

import numbers

import jax
from jax import lax
import jax.numpy as jnp

from isjax.losses import batch_validation


def center_loss(features, labels, centers, mask=None):
  r"""Half the mean squared distance of each feature to its class centre.

  .. math::
    L_C = \frac{1}{2\,|V|} \sum_{i \in V} \lVert x_i - c_{y_i} \rVert_2^2

  over the set V of unmasked examples. Wen et al. (2016) define
  :math:`\tfrac12 \sum_i`, a sum over the batch; this function takes the
  mean, so the weight λ of the loss does not depend on the batch size. The
  gradient with respect to :math:`x_i` is :math:`(x_i - c_{y_i}) / |V|`.

  The centres pass through ``lax.stop_gradient`` and receive no gradient,
  because the paper updates them with its own rule (``update_centers``).

  Args:
    features: [B, D] floating-point features; low-precision inputs are
      computed in float32.
    labels: [B] integer class labels in [0, C). A label outside that range
      selects no centre, so its row is compared with the zero vector. Masked
      rows may carry any label.
    centers: [C, D] class centres.
    mask: optional bool [B]; False marks padding examples, which add nothing.

  Returns:
    A scalar, 0 when every example is masked.

  Raises:
    ValueError: for shapes that do not match.
  """
  features = jnp.asarray(features)
  centers = jnp.asarray(centers)
  labels = jnp.asarray(labels)
  _validate_shapes(features, labels, centers, mask)
  return _center_loss(features, labels, centers, mask)


# The functions below are jitted so that eager calls compile one program
# instead of one per operation; inside a caller's jit they are inlined.
@jax.jit
def _center_loss(features, labels, centers, mask):
  dtype = jnp.promote_types(jnp.result_type(features, centers), jnp.float32)
  centers = lax.stop_gradient(centers).astype(dtype)

  # The one-hot product c_{y_i} = onehot(y_i) · C picks the centres. Unlike a
  # gather it also works with the batch sharded over an explicit mesh axis,
  # and it gives the zero vector for labels outside [0, C).
  one_hot = _one_hot(labels, centers.shape[0], dtype)
  assigned_centers = jnp.matmul(
      one_hot, centers, precision=lax.Precision.HIGHEST)
  squared_distances = jnp.sum(
      jnp.square(features.astype(dtype) - assigned_centers), axis=-1)

  if mask is None:
    return 0.5 * jnp.mean(squared_distances)
  weights = mask.astype(dtype)
  return 0.5 * jnp.sum(squared_distances * weights) / jnp.maximum(
      jnp.sum(weights), 1)


def update_centers(centers, features, labels, alpha, mask=None):
  r"""Move each class centre towards the batch features of its class.

  The rule of Wen et al. (2016):

  .. math::
    \Delta c_j = \frac{\sum_i \delta(y_i = j)\,(c_j - x_i)}
                      {1 + \sum_i \delta(y_i = j)}, \qquad
    c_j \leftarrow c_j - \alpha\, \Delta c_j

  with the sums over the unmasked examples. A class absent from the batch
  keeps its centre, and the 1 in the denominator damps the step of classes
  with few examples. The features are treated as constants (``stop_gradient``).

  The per-class sums are a one-hot matrix product, [C, B] × [B, D], at
  ``lax.Precision.HIGHEST``. With the batch sharded over devices, XLA sums
  the shards with an all-reduce, so the result matches the unsharded one up
  to the order of float additions (exactly, when the sums are exact).

  Args:
    centers: [C, D] class centres.
    features: [B, D] features of the batch.
    labels: [B] integer class labels; rows whose label is outside [0, C)
      update no centre.
    alpha: the centre learning rate α in [0, 1], a Python number or a scalar
      array (only a Python number is range-checked).
    mask: optional bool [B]; False marks padding examples, which are ignored.

  Returns:
    The new [C, D] centres, in the dtype of ``centers``.

  Raises:
    ValueError: for shapes that do not match, or a Python number ``alpha``
      outside [0, 1].
  """
  if isinstance(alpha, numbers.Real) and not 0 <= alpha <= 1:
    raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
  features = jnp.asarray(features)
  centers = jnp.asarray(centers)
  labels = jnp.asarray(labels)
  _validate_shapes(features, labels, centers, mask)
  return _update_centers(centers, features, labels, alpha, mask)


@jax.jit
def _update_centers(centers, features, labels, alpha, mask):
  dtype = jnp.promote_types(jnp.result_type(features, centers), jnp.float32)
  features = lax.stop_gradient(features).astype(dtype)
  old_centers = centers.astype(dtype)

  # one_hot[i, j] = δ(y_i = j), zero for masked rows.
  one_hot = _one_hot(labels, centers.shape[0], dtype)
  if mask is not None:
    one_hot = one_hot * mask.astype(dtype)[:, None]
  class_counts = jnp.sum(one_hot, axis=0)[:, None]
  # The product contracts the batch axis. When that axis is sharded over an
  # explicit mesh axis, JAX needs the output sharding spelled out.
  feature_sums = jnp.matmul(
      one_hot.T, features, precision=lax.Precision.HIGHEST,
      out_sharding=_replicated_sharding(one_hot, features))

  deltas = (class_counts * old_centers - feature_sums) / (1 + class_counts)
  return (old_centers - alpha * deltas).astype(centers.dtype)


def _one_hot(labels, num_classes, dtype):
  return (labels[:, None] == jnp.arange(num_classes)[None, :]).astype(dtype)


def _replicated_sharding(*arrays):
  """Return a replicated sharding on the explicit mesh of ``arrays``, or None.

  None (let the compiler choose) unless one of the arrays is sharded over an
  explicit mesh axis.
  """
  for array in arrays:
    sharding = jax.typeof(array).sharding
    if any(entry is not None for entry in sharding.spec):
      return jax.sharding.NamedSharding(sharding.mesh,
                                        jax.sharding.PartitionSpec())
  return None


def _validate_shapes(features, labels, centers, mask):
  if features.ndim != 2 or centers.ndim != 2:
    raise ValueError(
        f"features [B, D] and centers [C, D] must be 2-D, got shapes "
        f"{features.shape} and {centers.shape}.")
  if features.shape[1] != centers.shape[1]:
    raise ValueError(
        f"features and centers must have the same dimension, got shapes "
        f"{features.shape} and {centers.shape}.")
  batch_size = features.shape[0]
  batch_validation.validate_labels_and_mask(labels, mask, batch_size,
                                            "feature row")
