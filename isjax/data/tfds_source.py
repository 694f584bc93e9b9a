"""Image classification datasets from the TFDS catalogue.

TFDS datasets are read sequentially from record files, so each process reads
its own slice of a split (`tfds.even_splits`) and shuffles it with a
`tf.data` buffer. The shuffle seeds depend on (seed, epoch) only, so a resumed
run reads each epoch in the same order as an uninterrupted one.
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from isjax.data import batching
from isjax.data import info as info_lib
from isjax.data import preprocessing
from isjax.data import tfds_preparation


def _supervised_features(builder):
  """Return (image_key, label_key) of an image classification dataset."""
  features = builder.info.features
  keys = builder.info.supervised_keys
  if (not isinstance(keys, tuple) or len(keys) != 2 or
      not all(isinstance(key, str) for key in keys) or
      not isinstance(features[keys[0]], tfds.features.Image) or
      not isinstance(features[keys[1]], tfds.features.ClassLabel)):
    raise ValueError(
        f"TFDS dataset {builder.name!r} is not an image classification "
        "dataset: isjax needs supervised keys (image, label) naming an Image "
        f"and a ClassLabel feature, but its supervised keys are {keys!r} and "
        f"its features {list(features.keys())}.")
  image_key, label_key = keys

  image_feature = features[image_key]
  if tf.as_dtype(image_feature.dtype) != tf.uint8:
    raise ValueError(
        f"TFDS dataset {builder.name!r} stores {image_feature.dtype} images; "
        "isjax reads uint8 images only.")
  if len(image_feature.shape) != 3 or image_feature.shape[-1] is None:
    raise ValueError(
        f"TFDS dataset {builder.name!r} has image shape {image_feature.shape}; "
        "isjax needs (height, width, channels) with a fixed channel count.")
  return image_key, label_key


class TfdsSource:
  """A prepared TFDS image classification dataset."""

  def __init__(self, name, *, data_dir, manual_dir, download, image_size,
               shuffle_buffer, configured_splits):
    """Load the builder, preparing the dataset when allowed.

    Args:
      name: a registered TFDS name.
      data_dir: TFDS data directory or None for the TFDS default.
      manual_dir: TFDS manual directory or None for the TFDS default.
      download: whether to download and prepare a missing dataset.
      image_size: None or (height, width) to resize to; required when the
        dataset's images vary in size.
      shuffle_buffer: size of the training shuffle buffer, in examples.
      configured_splits: split strings from the config (e.g. "train[:90%]"),
        added to `info.num_examples` beside the dataset's named splits.

    Raises:
      tfds_preparation.DatasetNotPreparedError: see
        `tfds_preparation.load_prepared_builder`.
      ValueError: if the dataset is not image classification, its images vary
        in size and `image_size` is None, a configured split is invalid, or
        `shuffle_buffer` is not a positive integer.
    """
    if (isinstance(shuffle_buffer, bool) or
        not isinstance(shuffle_buffer, int) or shuffle_buffer <= 0):
      raise ValueError(
          "dataset.shuffle_buffer must be a positive integer, got "
          f"{shuffle_buffer!r}.")
    self._builder = tfds_preparation.load_prepared_builder(
        name, data_dir=data_dir, manual_dir=manual_dir, download=download)
    self._image_key, self._label_key = _supervised_features(self._builder)
    self._image_size = image_size
    self._shuffle_buffer = shuffle_buffer

    features = self._builder.info.features
    height, width, channels = features[self._image_key].shape
    if image_size is not None:
      height, width = image_size
    elif height is None or width is None:
      raise ValueError(
          f"TFDS dataset {name!r} has images of varying size "
          f"{features[self._image_key].shape}; set "
          "--config.dataset.image_size='(HEIGHT, WIDTH)' to resize them.")

    label_feature = features[self._label_key]
    self.info = info_lib.DatasetInfo(
        name=name,
        num_classes=label_feature.num_classes,
        image_shape=(height, width, channels),
        num_examples=self._count_examples(configured_splits),
        class_names=tuple(label_feature.names))

  def _count_examples(self, configured_splits):
    splits = self._builder.info.splits
    num_examples = {
        split: splits[split].num_examples for split in splits.keys()}
    for split in configured_splits:
      if split in num_examples:
        continue
      try:
        num_examples[split] = splits[split].num_examples
      except (KeyError, ValueError) as error:
        raise ValueError(
            f"Invalid split {split!r} for TFDS dataset {self._builder.name!r}: "
            f"{error}. Its splits are {sorted(splits.keys())}; TFDS slicing "
            "such as 'train[:90%]' also works.") from error
    return num_examples

  def _read(self, split, shuffle_seed):
    """Return the undecoded examples of `split`, shuffled files if seeded."""
    options = tf.data.Options()
    options.deterministic = True
    read_config = tfds.ReadConfig(
        shuffle_seed=shuffle_seed,
        # Each epoch builds a new dataset that is read once, so an in-memory
        # cache would only cost memory.
        try_autocache=False,
        options=options)
    # Images are decoded after the shuffle, so the shuffle buffer contains
    # encoded bytes and skipping examples on resume decodes nothing.
    return self._builder.as_dataset(
        split=split,
        shuffle_files=shuffle_seed is not None,
        decoders={self._image_key: tfds.decode.SkipDecoding()},
        read_config=read_config)

  def _decode(self, example):
    image_feature = self._builder.info.features[self._image_key]
    image = image_feature.decode_example(example[self._image_key])
    image = preprocessing.preprocess_image(image, self._image_size)
    image = tf.ensure_shape(image, self.info.image_shape)
    label = tf.cast(example[self._label_key], tf.int32)
    return {"image": image, "label": label}

  def _process_split(self, split, process_index, process_count):
    # Slices differ in size by at most one example.
    # NOTE: the tests run this with one process only, because
    # tfds.testing.mock_data yields the same examples for any split.
    return tfds.even_splits(split, n=process_count)[process_index]

  def train_batches(self, split, *, seed, start_step, global_batch_size,
                    process_index, process_count):
    """Yield this process's training batches forever.

    Each process reads `num_examples // global_batch_size` batches per epoch
    from its slice of the split. Slices hold at least
    floor(num_examples / process_count) examples, so every process has enough.
    """
    batch_size = batching.local_batch_size(global_batch_size, process_count)
    steps_per_epoch = info_lib.split_size(self.info, split) // global_batch_size
    process_split = self._process_split(split, process_index, process_count)
    epoch, step = divmod(start_step, steps_per_epoch)
    while True:
      epoch_seed = batching.epoch_seed(seed, epoch)
      dataset = self._read(process_split, shuffle_seed=epoch_seed)
      dataset = dataset.shuffle(
          self._shuffle_buffer, seed=epoch_seed, reshuffle_each_iteration=False)
      dataset = dataset.skip(step * batch_size)
      dataset = dataset.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
      dataset = dataset.batch(batch_size, drop_remainder=True)
      dataset = dataset.take(steps_per_epoch - step)
      dataset = dataset.prefetch(tf.data.AUTOTUNE)
      yield from tfds.as_numpy(dataset)

      epoch += 1
      step = 0

  def eval_batches(self, split, *, global_batch_size, process_index,
                   process_count):
    """Yield this process's batches for one pass over its slice, padded.

    Every process yields ceil(num_examples / global_batch_size) batches, the
    same number, because no slice exceeds ceil(num_examples / process_count)
    examples.
    """
    batch_size = batching.local_batch_size(global_batch_size, process_count)
    num_batches = math.ceil(
        info_lib.split_size(self.info, split) / global_batch_size)
    process_split = self._process_split(split, process_index, process_count)

    def decode_with_mask(example):
      return {**self._decode(example), "mask": True}

    padding = tf.data.Dataset.from_tensors({
        "image": tf.zeros(self.info.image_shape, tf.float32),
        "label": tf.constant(0, tf.int32),
        "mask": False,
    }).repeat()
    dataset = self._read(process_split, shuffle_seed=None)
    dataset = dataset.map(decode_with_mask, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.concatenate(padding)
    dataset = dataset.take(num_batches * batch_size)
    dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    yield from tfds.as_numpy(dataset)

  def split_arrays(self, split):
    """Return the whole split as (images, labels), in order.

    Images are float32 [N, H, W, C] in [0, 1] and labels int32 [N].
    """
    info_lib.split_size(self.info, split)  # Raises for an unknown split.
    dataset = self._read(split, shuffle_seed=None)
    dataset = dataset.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(1024)
    batches = list(tfds.as_numpy(dataset))
    if not batches:
      return (np.zeros((0,) + self.info.image_shape, np.float32),
              np.zeros((0,), np.int32))
    images = np.concatenate([batch["image"] for batch in batches])
    labels = np.concatenate([batch["label"] for batch in batches])
    return images, labels
