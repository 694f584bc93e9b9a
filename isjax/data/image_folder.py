"""Image folder datasets laid out as <root>/<split>/<class>/<image>.

Class names are the sorted folder names of the training split, so every split
labels a class the same way even where a split lacks some classes.

`tfds.ImageFolder` (TFDS 4.9) reads the same layout but does not fit here: it
reads only .jpg/.jpeg/.png, takes the labels from all splits together, has no
sub-split support for per-process reading, and decodes to 3 channels. This
module lists the files itself and reads them with `tf.data`.
"""

import os

import numpy as np
import tensorflow as tf

from isjax.data import batching
from isjax.data import indexed_source
from isjax.data import info as info_lib
from isjax.data import preprocessing

NAME = "image_folder"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _list_subfolders(path):
  return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def _list_images(folder):
  return sorted(
      entry.path for entry in os.scandir(folder)
      if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS))


def _read_size(path):
  """Return (height, width) of an image file, reading only its header."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      width, height = image.size
  except (OSError, Image.UnidentifiedImageError) as error:
    raise ValueError(f"Cannot read the image file {path}: {error}") from error
  return height, width


def _read_channels(path):
  """Return the channels the pipeline uses for an image file: 1 (gray) or 3."""
  image = tf.io.decode_image(
      tf.io.read_file(path), channels=0, expand_animations=False)
  return 1 if image.shape[-1] < 3 else 3


class ImageFolderSource(indexed_source.IndexedSource):
  """Images read from <root>/<split>/<class>/<image> files."""

  def __init__(self, root, *, train_split, image_size):
    """List the files of every split and check them.

    Args:
      root: the folder that contains one folder per split.
      train_split: the split whose class folders define the class names.
      image_size: None, or (height, width) to resize every image to. Without
        it, all images must have one size.

    Raises:
      FileNotFoundError: if `root` or the training split folder is missing.
      ValueError: if a split has no class folders, a class folder has no
        images, a split has a class that the training split lacks, or the
        images differ in size and `image_size` is None.
    """
    if root is None or not os.path.isdir(root):
      raise FileNotFoundError(
          f"Image folder root {root!r} is not an existing folder. Set "
          "--config.dataset.data_dir to a folder laid out as "
          "<root>/<split>/<class>/<image>.")
    self._root = root
    self._image_size = image_size
    self._split_names = _list_subfolders(root)

    class_names = _list_subfolders(self._split_folder(train_split))
    if not class_names:
      raise ValueError(
          f"The training split folder {self._split_folder(train_split)} has no "
          "class folders; expected <root>/<split>/<class>/<image>.")
    self._class_names = tuple(class_names)

    # Every split is listed now (cheap) so that errors in any of them show up
    # before training starts. Sizes are checked when a split is first read.
    self._files = {
        split: self._list_split(split) for split in self._split_names}
    self._checked_sizes = {}

    first_image = self._files[train_split][0][0]
    self._channels = _read_channels(first_image)
    if image_size is None:
      height, width = self._check_sizes(train_split)
    else:
      height, width = image_size
    self.info = info_lib.DatasetInfo(
        name=NAME,
        num_classes=len(class_names),
        image_shape=(height, width, self._channels),
        num_examples={
            split: len(paths) for split, (paths, _) in self._files.items()},
        class_names=self._class_names)

  def _split_folder(self, split):
    folder = os.path.join(self._root, split)
    if split not in self._split_names:
      raise FileNotFoundError(
          f"Split folder {folder} does not exist; split folders found in "
          f"{self._root}: {self._split_names}.")
    return folder

  def _list_split(self, split):
    """Return (paths [N] str, labels [N] int32) of a split in class order."""
    split_folder = self._split_folder(split)
    class_folders = _list_subfolders(split_folder)
    if not class_folders:
      raise ValueError(
          f"Split folder {split_folder} has no class folders; expected "
          "<root>/<split>/<class>/<image>.")
    unknown_classes = sorted(set(class_folders) - set(self._class_names))
    if unknown_classes:
      raise ValueError(
          f"Split folder {split_folder} has class folders {unknown_classes} "
          "that the training split lacks; its classes are "
          f"{list(self._class_names)}.")

    paths, labels = [], []
    for label, class_name in enumerate(self._class_names):
      class_folder = os.path.join(split_folder, class_name)
      if not os.path.isdir(class_folder):
        continue  # A split may lack a class, e.g. a small test split.
      class_paths = _list_images(class_folder)
      if not class_paths:
        raise ValueError(
            f"Class folder {class_folder} has no images; the files read are "
            f"those ending in {', '.join(IMAGE_EXTENSIONS)} (any case).")
      paths.extend(class_paths)
      labels.extend([label] * len(class_paths))
    return np.array(paths), np.array(labels, dtype=np.int32)

  def _check_sizes(self, split):
    """Return the (height, width) that all images of `split` share.

    Only needed without `image_size`: batches need one size, and checking up
    front gives a clear error instead of a failure in the middle of an epoch.
    """
    if split not in self._checked_sizes:
      paths, _ = self._files[split]
      first_size = _read_size(paths[0])
      for path in paths[1:]:
        size = _read_size(path)
        if size != first_size:
          raise ValueError(
              f"Images in {self._split_folder(split)} differ in size: "
              f"{paths[0]} is {first_size[0]}x{first_size[1]} (height x width) "
              f"but {path} is {size[0]}x{size[1]}. Set "
              "--config.dataset.image_size='(HEIGHT, WIDTH)' to resize them.")
      self._checked_sizes[split] = first_size
    return self._checked_sizes[split]

  def _split_files(self, split):
    info_lib.split_size(self.info, split)  # Raises for an unknown split.
    if self._image_size is None:
      size = self._check_sizes(split)
      if size != self.info.image_shape[:2]:
        raise ValueError(
            f"Images in {self._split_folder(split)} are {size[0]}x{size[1]} "
            "(height x width) but the training split's are "
            f"{self.info.image_shape[0]}x{self.info.image_shape[1]}. Set "
            "--config.dataset.image_size='(HEIGHT, WIDTH)' to resize them.")
    return self._files[split]

  def _read_indices(self, split, indices, batch_size):
    """Yield batches read from a `tf.data.Dataset` of example indices."""
    paths, labels = self._split_files(split)
    paths = tf.constant(paths)
    labels = tf.constant(labels)
    image_shape = self.info.image_shape

    def load_example(index):
      mask = index >= 0
      safe_index = tf.maximum(index, 0)
      image = tf.io.decode_image(
          tf.io.read_file(paths[safe_index]),
          channels=0,
          expand_animations=False)
      image = preprocessing.convert_channels(image, self._channels)
      image = preprocessing.preprocess_image(image, self._image_size)
      image = tf.ensure_shape(image, image_shape)
      return {
          "image": tf.where(mask, image, 0.0),
          "label": tf.where(mask, labels[safe_index], 0),
          "mask": mask,
      }

    options = tf.data.Options()
    options.deterministic = True  # Parallel decoding keeps the index order.
    dataset = indices.map(load_example, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset = dataset.with_options(options)
    yield from dataset.as_numpy_iterator()

  def read_batches(self, split, index_rows):
    indices = tf.data.Dataset.from_tensor_slices(np.ravel(index_rows))
    yield from self._read_indices(split, indices, index_rows.shape[1])

  def train_batches(self, split, *, seed, start_step, global_batch_size,
                    process_index, process_count):
    """Yield this process's training batches forever.

    The order is that of `batching.train_epoch_rows`. All epochs run through
    one `tf.data` pipeline, so an epoch boundary neither stalls the prefetch
    nor traces the decoding function again.
    """
    num_examples = info_lib.split_size(self.info, split)
    steps_per_epoch = num_examples // global_batch_size
    start_epoch, start_step_in_epoch = divmod(start_step, steps_per_epoch)

    def epoch_indices(epoch):
      first_step = start_step_in_epoch if epoch == start_epoch else 0
      rows = batching.train_epoch_rows(
          num_examples, seed=seed, epoch=int(epoch), first_step=first_step,
          global_batch_size=global_batch_size, process_index=process_index,
          process_count=process_count)
      return np.ravel(rows)

    def epoch_dataset(epoch):
      indices = tf.numpy_function(
          epoch_indices, [epoch], tf.int64, stateful=False)
      indices = tf.ensure_shape(indices, [None])
      return tf.data.Dataset.from_tensor_slices(indices)

    epochs = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max)
    indices = epochs.flat_map(epoch_dataset)
    batch_size = batching.local_batch_size(global_batch_size, process_count)
    for batch in self._read_indices(split, indices, batch_size):
      del batch["mask"]  # Training batches have no padding.
      yield batch
