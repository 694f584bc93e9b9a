"""Tests for the public isjax.data iterators, on the embedded mnist5k."""

import itertools

import jax
import numpy as np
import pytest

from configs import default
import isjax.data
from isjax.data import mnist5k


def _dataset_config(**overrides):
  config = default.get_config().dataset
  config.update(overrides)
  return config


def _take(iterator, count):
  return list(itertools.islice(iterator, count))


@pytest.fixture(scope="module")
def test_arrays():
  return isjax.data.load_split_arrays(_dataset_config(), "test")


def _image_ids(reference_images):
  """Map each image's bytes to its index, to identify batch rows."""
  ids = {image.tobytes(): index for index, image in enumerate(reference_images)}
  assert len(ids) == len(reference_images)  # mnist5k images are distinct.
  return ids


def _simulate_processes(monkeypatch, process_index, process_count):
  monkeypatch.setattr(jax, "process_index", lambda: process_index)
  monkeypatch.setattr(jax, "process_count", lambda: process_count)


def test_dataset_info():
  info = isjax.data.get_dataset_info(_dataset_config())
  assert info.name == "mnist5k"
  assert info.num_classes == 10
  assert info.image_shape == (28, 28, 1)
  assert info.num_examples == {"train": 4000, "test": 1000}
  assert info.class_names == tuple(str(digit) for digit in range(10))


def test_batch_counts():
  info = isjax.data.get_dataset_info(_dataset_config())
  assert isjax.data.steps_per_epoch(info, "train", 128) == 31  # 4000 // 128
  assert isjax.data.num_eval_batches(info, "test", 128) == 8  # ceil(1000 / 128)
  assert isjax.data.num_eval_batches(info, "test", 1000) == 1
  with pytest.raises(ValueError, match="'validation'.*'test', 'train'"):
    isjax.data.steps_per_epoch(info, "validation", 128)


def test_load_split_arrays_matches_raw(test_arrays):
  images, labels = test_arrays
  raw_images, raw_labels = mnist5k.load_mnist5k()["test"]
  assert images.dtype == np.float32
  assert images.shape == (1000, 28, 28, 1)
  assert labels.dtype == np.int32
  np.testing.assert_array_equal(labels, raw_labels)
  np.testing.assert_allclose(images, raw_images / 255.0, atol=1e-7)
  assert images.min() == 0.0
  assert images.max() == 1.0


def test_resize_image_size():
  config = _dataset_config(image_size=(14, 14))
  assert isjax.data.get_dataset_info(config).image_shape == (14, 14, 1)
  images, _ = isjax.data.load_split_arrays(config, "test")
  assert images.shape == (1000, 14, 14, 1)
  assert images.min() >= 0.0
  assert images.max() <= 1.0


@pytest.mark.parametrize("bad_size", [(28,), (0, 28), (28.0, 28), (28, 28, 1)])
def test_invalid_image_size(bad_size):
  with pytest.raises(ValueError, match="image_size"):
    isjax.data.get_dataset_info(_dataset_config(image_size=bad_size))


def test_train_batch_shapes():
  batch = next(isjax.data.create_train_iterator(
      _dataset_config(), global_batch_size=32, seed=0))
  assert set(batch) == {"image", "label"}
  assert batch["image"].shape == (32, 28, 28, 1)
  assert batch["image"].dtype == np.float32
  assert batch["label"].shape == (32,)
  assert batch["label"].dtype == np.int32
  assert 0.0 <= batch["image"].min()
  assert batch["image"].max() <= 1.0


def test_train_same_seed_same_batches():
  config = _dataset_config()
  first = _take(isjax.data.create_train_iterator(
      config, global_batch_size=64, seed=3), 5)
  second = _take(isjax.data.create_train_iterator(
      config, global_batch_size=64, seed=3), 5)
  other_seed = _take(isjax.data.create_train_iterator(
      config, global_batch_size=64, seed=4), 5)
  for batch, same in zip(first, second):
    np.testing.assert_array_equal(batch["image"], same["image"])
    np.testing.assert_array_equal(batch["label"], same["label"])
  assert not np.array_equal(first[0]["image"], other_seed[0]["image"])


@pytest.mark.parametrize("global_batch_size", [500, 384])
def test_train_epoch_sees_each_example_once(global_batch_size):
  train_images, _ = isjax.data.load_split_arrays(_dataset_config(), "train")
  ids = _image_ids(train_images)
  steps = 4000 // global_batch_size
  iterator = isjax.data.create_train_iterator(
      _dataset_config(), global_batch_size=global_batch_size, seed=0)
  epochs = []
  for _ in range(2):
    batches = _take(iterator, steps)
    epochs.append([ids[image.tobytes()]
                   for batch in batches for image in batch["image"]])

  for seen in epochs:
    # 500 divides 4,000; 384 leaves 4000 - 10 * 384 = 160 examples out.
    assert len(seen) == steps * global_batch_size
    assert len(set(seen)) == len(seen)
  assert epochs[0] != epochs[1]  # Each epoch has its own order.


def test_train_resume_matches_skipping():
  config = _dataset_config()
  # 4,000 // 1,000 = 4 steps per epoch, so steps 3 -> 4 cross an epoch boundary.
  fresh = _take(isjax.data.create_train_iterator(
      config, global_batch_size=1000, seed=7), 10)
  for start_step in (1, 3, 4, 6):
    resumed = _take(isjax.data.create_train_iterator(
        config, global_batch_size=1000, seed=7, start_step=start_step),
                    10 - start_step)
    for expected, actual in zip(fresh[start_step:], resumed):
      np.testing.assert_array_equal(expected["image"], actual["image"])
      np.testing.assert_array_equal(expected["label"], actual["label"])


def test_train_batch_larger_than_split():
  with pytest.raises(ValueError, match=r"\(4096\) exceeds the 4000"):
    isjax.data.create_train_iterator(
        _dataset_config(), global_batch_size=4096, seed=0)


@pytest.mark.parametrize("bad_step", [-1, 1.5])
def test_train_invalid_start_step(bad_step):
  with pytest.raises(ValueError, match="start_step"):
    isjax.data.create_train_iterator(
        _dataset_config(), global_batch_size=8, seed=0, start_step=bad_step)


@pytest.mark.parametrize("global_batch_size", [7, 8, 9, 1000, 1024])
def test_eval_sees_each_example_once(global_batch_size, test_arrays):
  images, labels = test_arrays
  ids = _image_ids(images)
  batches = list(isjax.data.create_eval_iterator(
      _dataset_config(), split="test", global_batch_size=global_batch_size))

  assert len(batches) == -(-1000 // global_batch_size)
  seen = []
  for batch in batches:
    assert batch["image"].shape == (global_batch_size, 28, 28, 1)
    assert batch["label"].shape == (global_batch_size,)
    assert batch["mask"].dtype == np.bool_
    rows = zip(batch["image"], batch["label"], batch["mask"])
    for image, label, mask in rows:
      if mask:
        seen.append(ids[image.tobytes()])
        assert label == labels[seen[-1]]
      else:
        assert not image.any()
        assert label == 0
  assert seen == list(range(1000))  # Every example once, in order.
  num_padding = sum(int((~batch["mask"]).sum()) for batch in batches)
  assert num_padding == len(batches) * global_batch_size - 1000


def test_eval_unknown_split():
  with pytest.raises(ValueError, match="'val'"):
    isjax.data.create_eval_iterator(
        _dataset_config(), split="val", global_batch_size=8)


def test_batch_not_divisible_by_process_count(monkeypatch):
  _simulate_processes(monkeypatch, 0, 3)
  with pytest.raises(ValueError, match=r"\(128\).*\(3\)"):
    isjax.data.create_train_iterator(
        _dataset_config(), global_batch_size=128, seed=0)
  with pytest.raises(ValueError, match=r"\(128\).*\(3\)"):
    isjax.data.create_eval_iterator(
        _dataset_config(), split="test", global_batch_size=128)


def test_three_processes_train_slices_join(monkeypatch):
  config = _dataset_config()
  global_batches = _take(isjax.data.create_train_iterator(
      config, global_batch_size=96, seed=0, start_step=40), 3)
  local_batches = []
  for process_index in range(3):
    _simulate_processes(monkeypatch, process_index, 3)
    local_batches.append(_take(isjax.data.create_train_iterator(
        config, global_batch_size=96, seed=0, start_step=40), 3))

  for step, global_batch in enumerate(global_batches):
    for process_index in range(3):
      assert local_batches[process_index][step]["image"].shape[0] == 32
    joined = np.concatenate(
        [local_batches[p][step]["image"] for p in range(3)])
    np.testing.assert_array_equal(joined, global_batch["image"])


@pytest.mark.parametrize("global_batch_size", [3, 6, 9, 1002])
def test_three_processes_eval_once(monkeypatch, test_arrays, global_batch_size):
  ids = _image_ids(test_arrays[0])
  seen = []
  batch_counts = []
  for process_index in range(3):
    _simulate_processes(monkeypatch, process_index, 3)
    batches = list(isjax.data.create_eval_iterator(
        _dataset_config(), split="test", global_batch_size=global_batch_size))
    batch_counts.append(len(batches))
    for batch in batches:
      assert batch["image"].shape[0] == global_batch_size // 3
      seen.extend(ids[image.tobytes()]
                  for image, mask in zip(batch["image"], batch["mask"]) if mask)
  expected_batches = -(-1000 // global_batch_size)
  assert batch_counts == [expected_batches] * 3
  assert sorted(seen) == list(range(1000))


def test_unknown_name_lists_valid_names():
  with pytest.raises(ValueError) as error:
    isjax.data.get_dataset_info(_dataset_config(name="mnist_5k"))
  message = str(error.value)
  assert "'mnist_5k'" in message
  for name in ("mnist5k", "image_folder", "mnist", "fashion_mnist", "cifar10",
               "cifar100", "svhn_cropped", "imagenet2012", "TFDS"):
    assert name in message
