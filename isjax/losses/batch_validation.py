"""The shape check that every batch loss shares: one label and mask entry per row."""

import jax.numpy as jnp


def validate_labels_and_mask(labels, mask, batch_size, row_name):
  """Raise ValueError unless `labels` (and `mask`, if given) have one entry per row.

  Args:
    labels: the batch's labels.
    mask: the optional padding mask.
    batch_size: the number of rows of the loss's main input.
    row_name: what a row is, for the message, e.g. "feature row".
  """
  if labels.shape != (batch_size,):
    raise ValueError(
        f"labels must have shape ({batch_size},), one per {row_name}, got "
        f"{labels.shape}.")
  if mask is not None and jnp.shape(mask) != (batch_size,):
    raise ValueError(
        f"mask must have shape ({batch_size},), one per {row_name}, got "
        f"{jnp.shape(mask)}.")
