"""Contrastive loss on all pairs inside a batch (Hadsell, Chopra, LeCun 2006).

Reference: R. Hadsell, S. Chopra, Y. LeCun, "Dimensionality Reduction by
Learning an Invariant Mapping", CVPR 2006.
"""

import functools
import numbers

import jax
from jax import lax
import jax.numpy as jnp

from isjax.losses import batch_validation

PAIR_WEIGHTINGS = ("all", "balanced")


def contrastive_loss(embeddings, labels, *, margin=1.0, mask=None,
                     pairs="all"):
  r"""Contrastive loss over the pairs (i, j), i < j, of a batch.

  For a pair with Euclidean distance :math:`d = \lVert e_i - e_j \rVert_2`
  the loss of Hadsell et al. (2006) is

  .. math::
    \ell(i, j) = \begin{cases}
      \tfrac12 d^2 & \text{if } y_i = y_j \text{ (similar pair)}, \\
      \tfrac12 \max(0, m - d)^2 & \text{otherwise (dissimilar pair)},
    \end{cases}

  with the paper's factor 1/2 and margin m. Pairs involving a masked example
  are not valid. The batch loss is

  * ``pairs="all"``: the mean of :math:`\ell` over all valid pairs.
  * ``pairs="balanced"``: (mean of :math:`\ell` over valid similar pairs +
    mean of :math:`\ell` over valid dissimilar pairs) / 2, so that both kinds
    weigh the same however rare similar pairs are. A mean over no pairs is 0,
    so a batch without similar pairs gives half the mean over dissimilar pairs.

  With no valid pair at all the loss is 0.

  Gradient at d = 0: the dissimilar term's gradient with respect to
  :math:`e_i` is :math:`-(m - d)\,(e_i - e_j)/d`, whose direction is undefined
  when :math:`e_i = e_j`. The distance uses a square root whose gradient is
  defined as 0 at 0, so identical embeddings give a finite (zero) gradient
  from that pair instead of NaN. The similar term :math:`\tfrac12 d^2` is
  computed without a square root and has the gradient :math:`e_i - e_j`.

  Squared distances come from :math:`\lVert e_i \rVert^2 + \lVert e_j \rVert^2
  - 2\, e_i \cdot e_j` (one [B, B] matrix product at
  ``lax.Precision.HIGHEST``, clamped at 0), so memory is O(B²), not O(B² D).
  With the batch sharded over devices the pairs still span the whole batch.

  Args:
    embeddings: [B, D] floating-point embeddings. Low-precision inputs are
      computed in float32.
    labels: [B] integer class labels; equal labels make a similar pair.
    margin: m > 0, the distance beyond which dissimilar pairs cost nothing.
    mask: optional bool [B]; False marks padding examples that form no pair.
    pairs: ``"all"`` or ``"balanced"``, see above.

  Returns:
    A float32 (or float64) scalar.

  Raises:
    ValueError: for an unknown ``pairs``, a margin that is not positive, or
      shapes that do not match.
    TypeError: for embeddings that are not floating point.
  """
  if pairs not in PAIR_WEIGHTINGS:
    raise ValueError(
        f"Unknown pairs {pairs!r}. Valid values are {PAIR_WEIGHTINGS}.")
  if isinstance(margin, numbers.Real) and not margin > 0:
    raise ValueError(f"margin must be positive, got {margin}.")
  embeddings = jnp.asarray(embeddings)
  labels = jnp.asarray(labels)
  _validate_batch(embeddings, labels, mask)
  return _contrastive_loss(embeddings, labels, margin, mask, pairs=pairs)


# Jitted so that eager calls compile one program instead of one per operation;
# inside a caller's jit it is inlined.
@functools.partial(jax.jit, static_argnames="pairs")
def _contrastive_loss(embeddings, labels, margin, mask, *, pairs):
  # Every example pairs with every other, so a batch sharded over an explicit
  # mesh axis is gathered first (an automatic axis lets XLA decide).
  embeddings = _replicate_explicit(embeddings)
  labels = _replicate_explicit(labels)
  if mask is not None:
    mask = _replicate_explicit(jnp.asarray(mask, dtype=bool))

  dtype = jnp.promote_types(embeddings.dtype, jnp.float32)
  embeddings = embeddings.astype(dtype)
  batch_size = embeddings.shape[0]

  squared_norms = jnp.sum(jnp.square(embeddings), axis=-1)
  products = jnp.matmul(
      embeddings, embeddings.T, precision=lax.Precision.HIGHEST)
  squared_distances = jnp.maximum(
      squared_norms[:, None] + squared_norms[None, :] - 2 * products, 0)
  distances = _safe_sqrt(squared_distances)

  valid = jnp.triu(jnp.ones((batch_size, batch_size), dtype=bool), k=1)
  if mask is not None:
    valid = valid & mask[:, None] & mask[None, :]
  same_label = labels[:, None] == labels[None, :]
  similar = valid & same_label
  dissimilar = valid & ~same_label

  similar_loss = 0.5 * squared_distances
  dissimilar_loss = 0.5 * jnp.square(jnp.maximum(margin - distances, 0))
  pair_loss = jnp.where(similar, similar_loss, 0) + jnp.where(
      dissimilar, dissimilar_loss, 0)

  if pairs == "all":
    return jnp.sum(pair_loss) / jnp.maximum(jnp.sum(valid), 1)
  similar_mean = jnp.sum(jnp.where(similar, pair_loss, 0)) / jnp.maximum(
      jnp.sum(similar), 1)
  dissimilar_mean = jnp.sum(jnp.where(dissimilar, pair_loss, 0)) / jnp.maximum(
      jnp.sum(dissimilar), 1)
  return 0.5 * (similar_mean + dissimilar_mean)


def _replicate_explicit(x):
  sharding = jax.typeof(x).sharding
  if all(entry is None for entry in sharding.spec):
    return x
  return jax.reshard(
      x, jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec()))


def _safe_sqrt(x):
  """Square root with gradient 0 at x = 0 instead of inf (and NaN after)."""
  positive = x > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


def _validate_batch(embeddings, labels, mask):
  if embeddings.ndim != 2:
    raise ValueError(
        f"embeddings must be a 2-D array [batch, dim], got shape "
        f"{embeddings.shape}.")
  if not jnp.issubdtype(embeddings.dtype, jnp.floating):
    raise TypeError(
        f"embeddings must be floating point, got dtype {embeddings.dtype}.")
  batch_size = embeddings.shape[0]
  batch_validation.validate_labels_and_mask(labels, mask, batch_size,
                                            "embedding")
