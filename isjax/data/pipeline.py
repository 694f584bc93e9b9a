"""Training and evaluation iterators over any source, split over JAX processes.

Each process gets its slice of every global batch: `global_batch_size /
jax.process_count()` examples, as NumPy arrays ready to be put on devices.
"""

from absl import logging
import jax
import tensorflow as tf

from isjax.data import batching
from isjax.data import info as info_lib
from isjax.data import sources


def _hide_gpus_from_tensorflow():
  """Keep TensorFlow off the GPUs so that it leaves their memory to JAX.

  TensorFlow only runs the input pipeline here, which needs no accelerator.
  """
  if not tf.config.list_physical_devices("GPU"):
    return
  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError as error:
    # TensorFlow has already set up its devices, e.g. because the caller used
    # TensorFlow before; the input pipeline then shares the GPUs.
    logging.warning("Could not hide the GPUs from TensorFlow: %s", error)


def _validate_start_step(start_step):
  if (isinstance(start_step, bool) or not isinstance(start_step, int) or
      start_step < 0):
    raise ValueError(
        f"start_step must be a non-negative integer, got {start_step!r}.")


def get_dataset_info(dataset_config):
  """Return the `DatasetInfo` of the dataset that `dataset_config` names.

  Args:
    dataset_config: the `config.dataset` ConfigDict.

  Returns:
    A `DatasetInfo`.
  """
  _hide_gpus_from_tensorflow()
  return sources.create_source(dataset_config).info


def create_train_iterator(dataset_config, *, global_batch_size, seed,
                          start_step=0):
  """Create an endless iterator over this process's part of each training batch.

  Epoch e visits the training split in an order that depends only on
  (seed, e). Each step takes the next `global_batch_size` examples of that
  order, and the `num_examples % global_batch_size` left at the end of an
  epoch are dropped, so an epoch has
  `steps_per_epoch(info, train_split, global_batch_size)` steps. mnist5k and
  image folders permute the whole split, so their global batches are the same
  for any process count. TFDS datasets are shuffled per process slice with a
  buffer of `dataset_config.shuffle_buffer` examples, so there the batches
  also depend on the process count.

  Args:
    dataset_config: the `config.dataset` ConfigDict; reads
      `dataset_config.train_split`.
    global_batch_size: examples per step over all processes; must be divisible
      by `jax.process_count()`.
    seed: non-negative integer that fixes the order of every epoch.
    start_step: global step to resume at. The first batch is the one an
      uninterrupted run yields at this step: epoch
      `start_step // steps_per_epoch`, batch `start_step % steps_per_epoch`
      within it.

  Returns:
    An iterator of dicts {"image": float32 [local_batch, H, W, C] in [0, 1],
    "label": int32 [local_batch]}, where
    local_batch = global_batch_size // jax.process_count().

  Raises:
    ValueError: if the batch size is not a positive multiple of the process
      count or exceeds the training split, or seed or start_step is invalid.
  """
  process_count = jax.process_count()
  batching.local_batch_size(global_batch_size, process_count)
  batching.validate_seed(seed)
  _validate_start_step(start_step)

  _hide_gpus_from_tensorflow()
  source = sources.create_source(dataset_config)
  split = dataset_config.train_split
  if info_lib.steps_per_epoch(source.info, split, global_batch_size) == 0:
    raise ValueError(
        f"Global batch size ({global_batch_size}) exceeds the "
        f"{source.info.num_examples[split]} examples of the training split "
        f"{split!r}, so an epoch would have no step.")

  return source.train_batches(
      split,
      seed=seed,
      start_step=start_step,
      global_batch_size=global_batch_size,
      process_index=jax.process_index(),
      process_count=process_count)


def create_eval_iterator(dataset_config, *, split, global_batch_size):
  """Create an iterator over one pass of `split`, in order, with padding.

  Over all batches and processes every example of the split appears exactly
  once with mask True. The last batches are filled up to the full batch size
  with zero images, label 0 and mask False, and every process yields
  `num_eval_batches(info, split, global_batch_size)` batches.

  Args:
    dataset_config: the `config.dataset` ConfigDict.
    split: the split to evaluate, e.g. `dataset_config.eval_split`.
    global_batch_size: examples per batch over all processes; must be
      divisible by `jax.process_count()`.

  Returns:
    An iterator of dicts {"image": float32 [local_batch, H, W, C],
    "label": int32 [local_batch], "mask": bool [local_batch]}.

  Raises:
    ValueError: if the batch size is not a positive multiple of the process
      count or the split is unknown.
  """
  process_count = jax.process_count()
  batching.local_batch_size(global_batch_size, process_count)

  _hide_gpus_from_tensorflow()
  source = sources.create_source(dataset_config)
  info_lib.split_size(source.info, split)  # Raises for an unknown split.

  return source.eval_batches(
      split,
      global_batch_size=global_batch_size,
      process_index=jax.process_index(),
      process_count=process_count)


def load_split_arrays(dataset_config, split):
  """Load a whole split into memory, in the evaluation order.

  Meant for small splits (tests, retrieval): the images take
  N * H * W * C * 4 bytes. Every process loads the whole split.

  Args:
    dataset_config: the `config.dataset` ConfigDict.
    split: the split to load.

  Returns:
    (images float32 [N, H, W, C] in [0, 1], labels int32 [N]).
  """
  _hide_gpus_from_tensorflow()
  source = sources.create_source(dataset_config)
  return source.split_arrays(split)
