"""Images per second that the input pipeline delivers on its own.

The iterators are the ones `train.py` uses (`isjax.data.create_train_iterator`),
consumed as fast as possible with nothing else running. No dataset can be
downloaded offline, so the CIFAR-size case reads random images that are written
to a temporary directory in the real on-disk format: TFRecord files of PNG
images, under the registered `cifar10` builder. Reading and decoding then cost
what they cost with the real CIFAR-10.
"""

import tempfile
import time

import numpy as np


def write_random_cifar10(data_dir, num_examples):
  """Prepare a `cifar10` TFDS dataset of random images in `data_dir`.

  Returns:
    The data directory, for `config.dataset.data_dir`.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  features = tfds.builder("cifar10").info.features
  rng = np.random.default_rng(0)

  def examples(split, count):
    for index in range(count):
      yield index, {
          "id": f"{split}_{index}",
          "image": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
          "label": int(rng.integers(10)),
      }

  tfds.dataset_builders.store_as_tfds_dataset(
      name="cifar10",
      version=tfds.builder("cifar10").version,
      features=features,
      split_datasets={"train": list(examples("train", num_examples)),
                      "test": list(examples("test", 64))},
      data_dir=data_dir)
  return data_dir


def measure_pipeline(dataset_config, *, batch_size, batches, warmup=5):
  """Return the images per second of the training iterator of `dataset_config`.

  The first `warmup` batches (opening files, starting tf.data's threads) are
  not timed. The timed batches cross epoch boundaries when the split is small,
  as they do in training.
  """
  from isjax import data  # pylint: disable=g-import-not-at-top

  iterator = data.create_train_iterator(
      dataset_config, global_batch_size=batch_size, seed=0)
  for _ in range(warmup):
    next(iterator)

  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * batch_size / (time.perf_counter() - start)


def temporary_cifar10_config(base_config, num_examples):
  """Return (dataset config reading random CIFAR-10 files, directory to delete)."""
  data_dir = tempfile.TemporaryDirectory(prefix="isjax_bench_cifar10_")
  write_random_cifar10(data_dir.name, num_examples)
  dataset_config = base_config.dataset.copy_and_resolve_references()
  dataset_config.data_dir = data_dir.name
  dataset_config.download = False
  return dataset_config, data_dir
