"""Assignment of examples to batches and processes.

A global batch of G examples is split over P processes, each taking
G / P consecutive rows of it. For sources with random access (in-memory arrays,
lists of image files) the order of an epoch is one global permutation, so the
global batches do not depend on the number of processes.
"""

import math

import numpy as np


def validate_global_batch_size(global_batch_size):
  """Raise ValueError unless `global_batch_size` is a positive integer."""
  if (isinstance(global_batch_size, bool) or
      not isinstance(global_batch_size, int) or global_batch_size <= 0):
    raise ValueError(
        "global_batch_size must be a positive integer, got "
        f"{global_batch_size!r}.")


def local_batch_size(global_batch_size, process_count):
  """Return the per-process batch size for a global batch size.

  Args:
    global_batch_size: examples per step summed over all processes.
    process_count: number of JAX processes.

  Returns:
    `global_batch_size // process_count`.

  Raises:
    ValueError: if the global batch size is not a positive integer or is not
      divisible by the process count.
  """
  validate_global_batch_size(global_batch_size)
  if global_batch_size % process_count:
    raise ValueError(
        f"Global batch size ({global_batch_size}) must be divisible by the "
        f"number of processes ({process_count}).")
  return global_batch_size // process_count


def validate_seed(seed):
  """Raise ValueError unless `seed` is a non-negative integer."""
  if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
    raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")


def epoch_permutation(num_examples, seed, epoch):
  """Return the example order of `epoch`, a function of (seed, epoch) only.

  Because the order does not depend on how many epochs ran before, a resumed
  run reads the same order as an uninterrupted one.

  Args:
    num_examples: size of the split.
    seed: non-negative integer run seed.
    epoch: non-negative epoch number.

  Returns:
    An int64 permutation of `range(num_examples)`.
  """
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def epoch_seed(seed, epoch):
  """Return a 32-bit seed for the `tf.data` shuffles of `epoch`."""
  return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def train_epoch_rows(num_examples, *, seed, epoch, first_step,
                     global_batch_size, process_index, process_count):
  """Return this process's example indices for the steps of one epoch.

  Step s of epoch e takes rows [s * G, (s + 1) * G) of `epoch_permutation(e)`,
  and process p takes the p-th block of G / P rows of it. The last
  `num_examples % G` examples of each epoch's order are dropped.

  Args:
    num_examples: size of the training split.
    seed: non-negative integer run seed.
    epoch: the epoch number.
    first_step: the first step within the epoch to return, for resuming in
      the middle of an epoch.
    global_batch_size: G, at most `num_examples`.
    process_index: this process, 0 .. P - 1.
    process_count: P; must divide G.

  Returns:
    An int64 array [steps_per_epoch - first_step, G / P], one row per step.
  """
  batch_size = local_batch_size(global_batch_size, process_count)
  steps_per_epoch = num_examples // global_batch_size
  order = epoch_permutation(num_examples, seed, epoch)
  order = order[:steps_per_epoch * global_batch_size]
  rows = order.reshape(steps_per_epoch, process_count, batch_size)
  return rows[first_step:, process_index]


def train_epoch_indices(num_examples, *, seed, start_step, global_batch_size,
                        process_index, process_count):
  """Yield `train_epoch_rows` for every epoch from `start_step` on, forever.

  The first array starts with the row that an uninterrupted run reads at
  `start_step`, so it is shorter than the later ones when the step falls
  inside an epoch.
  """
  steps_per_epoch = num_examples // global_batch_size
  epoch, step = divmod(start_step, steps_per_epoch)
  while True:
    yield train_epoch_rows(
        num_examples, seed=seed, epoch=epoch, first_step=step,
        global_batch_size=global_batch_size, process_index=process_index,
        process_count=process_count)
    epoch += 1
    step = 0


def eval_index_rows(num_examples, *, global_batch_size, process_index,
                    process_count):
  """Return this process's example indices for one pass over a split, in order.

  Global batch b holds examples [b * G, (b + 1) * G), and process p takes the
  p-th block of G / P of them. Positions past the end of the split are -1, so
  every example appears exactly once over all batches and processes, and every
  process has the same number of batches.

  Args:
    num_examples: size of the split.
    global_batch_size: G.
    process_index: this process, 0 .. P - 1.
    process_count: P; must divide G.

  Returns:
    An int64 array [ceil(num_examples / G), G / P]; -1 marks padding.
  """
  batch_size = local_batch_size(global_batch_size, process_count)
  num_batches = math.ceil(num_examples / global_batch_size)
  indices = np.full(num_batches * global_batch_size, -1, dtype=np.int64)
  indices[:num_examples] = np.arange(num_examples)
  indices = indices.reshape(num_batches, process_count, batch_size)
  return indices[:, process_index]
