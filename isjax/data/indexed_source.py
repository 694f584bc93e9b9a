"""Sources with random access to their examples, and the in-memory array source.

A random-access source shuffles by permuting example indices in NumPy (see
`batching`), which makes every epoch's order exact and independent of the
number of processes. Subclasses only implement reading a batch of indices.
"""

import numpy as np

from isjax.data import batching
from isjax.data import info as info_lib
from isjax.data import preprocessing


class IndexedSource:
  """Base class of sources that read examples by index.

  Subclasses set `self.info` (a `DatasetInfo`) and implement `read_batches`.
  """

  info: info_lib.DatasetInfo

  def read_batches(self, split, index_rows):
    """Yield one batch per row of example indices.

    Args:
      split: split name.
      index_rows: int64 array [num_batches, batch_size]; -1 marks padding.

    Yields:
      Dicts with "image" float32 [batch, H, W, C] in [0, 1], "label" int32
      [batch] and "mask" bool [batch]; padding has zero image and label and
      mask False.
    """
    raise NotImplementedError

  def train_batches(self, split, *, seed, start_step, global_batch_size,
                    process_index, process_count):
    """Yield this process's training batches forever.

    See `batching.train_epoch_indices` for the order.
    """
    epoch_indices = batching.train_epoch_indices(
        info_lib.split_size(self.info, split),
        seed=seed,
        start_step=start_step,
        global_batch_size=global_batch_size,
        process_index=process_index,
        process_count=process_count)
    for index_rows in epoch_indices:
      for batch in self.read_batches(split, index_rows):
        del batch["mask"]  # Training batches have no padding.
        yield batch

  def eval_batches(self, split, *, global_batch_size, process_index,
                   process_count):
    """Yield this process's batches for one padded pass over `split`."""
    index_rows = batching.eval_index_rows(
        info_lib.split_size(self.info, split),
        global_batch_size=global_batch_size,
        process_index=process_index,
        process_count=process_count)
    yield from self.read_batches(split, index_rows)

  def split_arrays(self, split):
    """Return the whole split as (images, labels), in order.

    Images are float32 [N, H, W, C] in [0, 1] and labels int32 [N].
    """
    num_examples = info_lib.split_size(self.info, split)
    # Any batch size gives the same arrays; this one bounds the padding work.
    batch_size = min(num_examples, 256)
    index_rows = batching.eval_index_rows(
        num_examples, global_batch_size=batch_size, process_index=0,
        process_count=1)
    batches = list(self.read_batches(split, index_rows))
    mask = np.concatenate([batch["mask"] for batch in batches])
    images = np.concatenate([batch["image"] for batch in batches])[mask]
    labels = np.concatenate([batch["label"] for batch in batches])[mask]
    return images, labels


class ArraySource(IndexedSource):
  """A dataset held in memory as uint8 image arrays.

  Each split is preprocessed once, on first use, and kept as float32, so a batch
  costs one NumPy gather.
  """

  def __init__(self, name, splits, class_names, image_size):
    """Create the source.

    Args:
      name: dataset name for `DatasetInfo.name`.
      splits: dict split name -> (images uint8 [N, H, W, C], labels int [N]).
      class_names: class names, index i naming label i.
      image_size: None or (height, width) to resize to.
    """
    self._raw_splits = splits
    self._image_size = image_size
    self._preprocessed = {}

    height, width, channels = next(iter(splits.values()))[0].shape[1:]
    if image_size is not None:
      height, width = image_size
    self.info = info_lib.DatasetInfo(
        name=name,
        num_classes=len(class_names),
        image_shape=(height, width, channels),
        num_examples={
            split: len(labels) for split, (_, labels) in splits.items()},
        class_names=tuple(class_names))

  def split_arrays(self, split):
    """Return the whole split as (images, labels), in order.

    Images are float32 [N, H, W, C] in [0, 1] and labels int32 [N]. The arrays
    are this source's cache, which its batches are gathered from.
    """
    info_lib.split_size(self.info, split)  # Raises for an unknown split.
    if split not in self._preprocessed:
      images, labels = self._raw_splits[split]
      images = preprocessing.preprocess_image(images, self._image_size).numpy()
      labels = np.array(labels, dtype=np.int32)
      self._preprocessed[split] = (images, labels)
    return self._preprocessed[split]

  def read_batches(self, split, index_rows):
    images, labels = self.split_arrays(split)
    for indices in index_rows:
      mask = indices >= 0
      safe_indices = np.where(mask, indices, 0)
      batch_images = images[safe_indices]
      batch_labels = labels[safe_indices]
      batch_images[~mask] = 0.0
      batch_labels[~mask] = 0
      yield {"image": batch_images, "label": batch_labels, "mask": mask}
