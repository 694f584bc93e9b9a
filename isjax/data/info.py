"""Dataset metadata and the batch counts derived from it."""

import dataclasses
import math

from isjax.data import batching


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """Metadata of a dataset as the pipeline delivers it.

  Attributes:
    name: the `dataset.name` from the config.
    num_classes: number of classes; labels are 0 .. num_classes - 1.
    image_shape: (height, width, channels) of the delivered images, after the
      resize to `dataset.image_size` when one is set.
    num_examples: split name -> number of examples in that split.
    class_names: class names, index i naming label i.
  """
  name: str
  num_classes: int
  image_shape: tuple[int, int, int]
  num_examples: dict[str, int]
  class_names: tuple[str, ...]


def split_size(info, split):
  """Return the number of examples in `split`.

  Args:
    info: a `DatasetInfo`.
    split: a split name in `info.num_examples`.

  Returns:
    The number of examples.

  Raises:
    ValueError: if the split is unknown; the message lists the known splits.
  """
  if split not in info.num_examples:
    raise ValueError(
        f"Unknown split {split!r} for dataset {info.name!r}; known splits: "
        f"{sorted(info.num_examples)}.")
  return info.num_examples[split]


def steps_per_epoch(info, split, global_batch_size):
  """Return the number of training steps in one epoch over `split`.

  Training batches drop the remainder, so this is
  `num_examples // global_batch_size`.

  Args:
    info: a `DatasetInfo`.
    split: the training split name.
    global_batch_size: examples per step summed over all processes.

  Returns:
    The number of full global batches in the split (0 if the batch is larger
    than the split).
  """
  batching.validate_global_batch_size(global_batch_size)
  return split_size(info, split) // global_batch_size


def num_eval_batches(info, split, global_batch_size):
  """Return the number of evaluation batches for one pass over `split`.

  The last batch is padded, so this is `ceil(num_examples / global_batch_size)`
  and every example is seen exactly once.

  Args:
    info: a `DatasetInfo`.
    split: the evaluation split name.
    global_batch_size: examples per batch summed over all processes.

  Returns:
    The number of global batches, padded ones included.
  """
  batching.validate_global_batch_size(global_batch_size)
  return math.ceil(split_size(info, split) / global_batch_size)
