"""Tests for isjax.data.batching: which examples each batch and process get."""

import itertools

import numpy as np
import pytest

from isjax.data import batching


def _take(iterator, count):
  return list(itertools.islice(iterator, count))


def test_local_batch_size_divides():
  assert batching.local_batch_size(12, 3) == 4


def test_local_batch_size_not_divisible():
  with pytest.raises(ValueError, match=r"\(10\).*\(3\)"):
    batching.local_batch_size(10, 3)


@pytest.mark.parametrize("bad_size", [0, -8, 2.0, True, None])
def test_local_batch_size_rejects_non_positive(bad_size):
  with pytest.raises(ValueError, match="positive integer"):
    batching.local_batch_size(bad_size, 1)


@pytest.mark.parametrize("bad_seed", [-1, 1.5, None])
def test_validate_seed_rejects(bad_seed):
  with pytest.raises(ValueError, match="seed"):
    batching.validate_seed(bad_seed)


def test_epoch_permutation_depends_on_seed_and_epoch():
  first = batching.epoch_permutation(100, seed=0, epoch=0)
  assert np.array_equal(first, batching.epoch_permutation(100, seed=0, epoch=0))
  next_epoch = batching.epoch_permutation(100, seed=0, epoch=1)
  other_seed = batching.epoch_permutation(100, seed=1, epoch=0)
  assert not np.array_equal(first, next_epoch)
  assert not np.array_equal(first, other_seed)
  assert sorted(first.tolist()) == list(range(100))


def test_epoch_seed_differs_per_epoch():
  seeds = {batching.epoch_seed(0, epoch) for epoch in range(10)}
  assert len(seeds) == 10
  assert batching.epoch_seed(3, 4) == batching.epoch_seed(3, 4)


def _train_rows(num_examples, count, **kwargs):
  """Return the first `count` training index rows, across epochs."""
  epochs = batching.train_epoch_indices(num_examples, **kwargs)
  return _take(itertools.chain.from_iterable(epochs), count)


@pytest.mark.parametrize("global_batch_size", [10, 7])
def test_train_rows_cover_epoch_once(global_batch_size):
  num_examples = 50
  steps = num_examples // global_batch_size
  rows = _train_rows(
      num_examples, steps, seed=0, start_step=0,
      global_batch_size=global_batch_size, process_index=0, process_count=1)
  seen = np.concatenate(rows)
  # 7 does not divide 50: an epoch uses 7 * 7 = 49 examples and drops one.
  assert len(seen) == steps * global_batch_size
  assert len(set(seen.tolist())) == len(seen)
  assert set(seen.tolist()) <= set(range(num_examples))


def test_train_epoch_arrays_shapes():
  epochs = batching.train_epoch_indices(
      30, seed=0, start_step=2, global_batch_size=8, process_index=1,
      process_count=2)
  # 30 // 8 = 3 steps per epoch; starting at step 2 leaves one in epoch 0.
  assert next(epochs).shape == (1, 4)
  assert next(epochs).shape == (3, 4)


def test_train_rows_resume_across_epoch_boundary():
  kwargs = dict(seed=5, global_batch_size=8, process_index=0, process_count=1)
  # 30 examples, 3 steps per epoch: step 2 is the last of epoch 0.
  fresh = _train_rows(30, 9, start_step=0, **kwargs)
  for start_step in (1, 2, 3, 5):
    resumed = _train_rows(30, 9 - start_step, start_step=start_step, **kwargs)
    for expected, actual in zip(fresh[start_step:], resumed):
      np.testing.assert_array_equal(expected, actual)


def test_train_rows_processes_split_global_batch():
  kwargs = dict(seed=1, start_step=0, global_batch_size=12)
  global_rows = _train_rows(40, 7, process_index=0, process_count=1, **kwargs)
  per_process = [
      _train_rows(40, 7, process_index=process, process_count=3, **kwargs)
      for process in range(3)]
  for step in range(7):
    joined = np.concatenate([per_process[p][step] for p in range(3)])
    np.testing.assert_array_equal(joined, global_rows[step])


@pytest.mark.parametrize("global_batch_size,process_count", [
    (7, 1), (8, 1), (9, 1), (30, 1), (64, 1), (8, 2), (30, 2), (64, 2), (9, 3)])
def test_eval_rows_every_example_once(global_batch_size, process_count):
  num_examples = 30
  per_process = [
      batching.eval_index_rows(
          num_examples, global_batch_size=global_batch_size,
          process_index=process, process_count=process_count)
      for process in range(process_count)]
  expected_batches = -(-num_examples // global_batch_size)
  for rows in per_process:
    assert rows.shape == (expected_batches, global_batch_size // process_count)
  indices = np.concatenate([rows.ravel() for rows in per_process])
  real = indices[indices >= 0]
  assert sorted(real.tolist()) == list(range(num_examples))
  num_padding = expected_batches * global_batch_size - num_examples
  assert np.sum(indices < 0) == num_padding
