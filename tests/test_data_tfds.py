"""Tests for TFDS sources: reading under tfds.testing.mock_data, offline errors.

No test here reaches the network: datasets are mocked, and the download paths
are tested with the connection check and `download_and_prepare` replaced.
"""

import itertools
import os
import socket
import time
import urllib.request

import numpy as np
import pytest
import requests
import tensorflow_datasets as tfds

from configs import default
import isjax.data
from isjax.data import tfds_preparation

NUM_MOCK_EXAMPLES = 24


def _dataset_config(name, data_dir, **overrides):
  config = default.get_config().dataset
  config.name = name
  config.data_dir = str(data_dir)
  config.update(overrides)
  return config


def _write_metadata(data_dir, name, num_examples):
  """Write TFDS metadata for `name` with `num_examples` in train and test.

  `mock_data` yields `num_examples` random examples for any split; with this
  metadata the builder is prepared and its split sizes agree with the mock.
  """
  builder = tfds.builder(name, data_dir=str(data_dir))
  builder.info.set_splits(tfds.core.SplitDict([
      tfds.core.SplitInfo(name=split, shard_lengths=[num_examples], num_bytes=0)
      for split in ("train", "test")]))
  os.makedirs(builder.data_dir)
  builder.info.write_to_directory(builder.data_dir)


@pytest.fixture(scope="module")
def metadata_dir(tmp_path_factory):
  """A data directory with metadata for mnist and cifar10, written once."""
  data_dir = tmp_path_factory.mktemp("tfds_metadata")
  for name in ("mnist", "cifar10"):
    _write_metadata(data_dir, name, NUM_MOCK_EXAMPLES)
  return data_dir


@pytest.fixture(params=["mnist", "cifar10"])
def mocked(request, metadata_dir):
  """Yield the config of a mocked dataset with 24 train and test examples."""
  with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES,
                              data_dir=str(metadata_dir)):
    yield _dataset_config(request.param, metadata_dir)


@pytest.fixture
def mocked_mnist(metadata_dir):
  """Yield the config of mocked mnist, for tests that need one dataset only."""
  with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES,
                              data_dir=str(metadata_dir)):
    yield _dataset_config("mnist", metadata_dir)


def _ids(images):
  ids = {image.tobytes(): index for index, image in enumerate(images)}
  assert len(ids) == len(images)  # Random mock images are distinct.
  return ids


def test_mocked_info(mocked):
  info = isjax.data.get_dataset_info(mocked)
  expected_shape = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}[mocked.name]
  assert info.image_shape == expected_shape
  assert info.num_classes == 10
  assert len(info.class_names) == 10
  assert info.num_examples == {
      "train": NUM_MOCK_EXAMPLES, "test": NUM_MOCK_EXAMPLES}


def test_mocked_images_scaled(mocked):
  images, labels = isjax.data.load_split_arrays(mocked, "test")
  assert images.shape[0] == NUM_MOCK_EXAMPLES
  assert images.dtype == np.float32
  assert labels.dtype == np.int32
  assert images.min() >= 0.0
  assert images.max() <= 1.0
  assert images.max() > 0.9  # Random uint8 pixels reach near 255.
  # Scaling is x / 255 of uint8 pixels and nothing else.
  np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-3)
  assert 0 <= labels.min()
  assert labels.max() < 10


def test_mocked_train_epoch_once(mocked_mnist):
  train_images, _ = isjax.data.load_split_arrays(mocked_mnist, "train")
  ids = _ids(train_images)
  iterator = isjax.data.create_train_iterator(
      mocked_mnist, global_batch_size=8, seed=0)
  epochs = []
  for _ in range(2):
    batches = list(itertools.islice(iterator, 3))  # 24 // 8 steps per epoch.
    assert batches[0]["image"].shape == (8,) + train_images.shape[1:]
    epochs.append([ids[image.tobytes()]
                   for batch in batches for image in batch["image"]])
  assert sorted(epochs[0]) == list(range(NUM_MOCK_EXAMPLES))
  assert sorted(epochs[1]) == list(range(NUM_MOCK_EXAMPLES))
  assert epochs[0] != epochs[1]


def test_mocked_train_resume(mocked_mnist):
  # 24 // 5 = 4 steps per epoch; steps 3 -> 4 cross an epoch boundary.
  fresh = list(itertools.islice(isjax.data.create_train_iterator(
      mocked_mnist, global_batch_size=5, seed=2), 7))
  resumed = list(itertools.islice(isjax.data.create_train_iterator(
      mocked_mnist, global_batch_size=5, seed=2, start_step=3), 4))
  for expected, actual in zip(fresh[3:], resumed):
    np.testing.assert_array_equal(expected["image"], actual["image"])
    np.testing.assert_array_equal(expected["label"], actual["label"])


def test_mocked_eval_once(mocked):
  images, labels = isjax.data.load_split_arrays(mocked, "test")
  info = isjax.data.get_dataset_info(mocked)
  # Batch sizes around 8 and one larger than the 24-example split.
  for global_batch_size in (7, 8, 9, 30):
    batches = list(isjax.data.create_eval_iterator(
        mocked, split="test", global_batch_size=global_batch_size))
    assert len(batches) == isjax.data.num_eval_batches(
        info, "test", global_batch_size)

    for batch in batches:
      assert batch["image"].shape == (global_batch_size,) + images.shape[1:]
      assert batch["mask"].shape == (global_batch_size,)
    mask = np.concatenate([batch["mask"] for batch in batches])
    evaluated = np.concatenate([batch["image"] for batch in batches])
    evaluated_labels = np.concatenate([batch["label"] for batch in batches])
    assert mask.tolist() == ([True] * NUM_MOCK_EXAMPLES +
                             [False] * (len(mask) - NUM_MOCK_EXAMPLES))
    np.testing.assert_array_equal(evaluated[mask], images)
    np.testing.assert_array_equal(evaluated_labels[mask], labels)
    assert not evaluated[~mask].any()


def test_mocked_resize(metadata_dir):
  with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES,
                              data_dir=str(metadata_dir)):
    config = _dataset_config("cifar10", metadata_dir, image_size=(16, 12))
    assert isjax.data.get_dataset_info(config).image_shape == (16, 12, 3)
    batch = next(isjax.data.create_train_iterator(
        config, global_batch_size=4, seed=0))
  assert batch["image"].shape == (4, 16, 12, 3)


def test_not_prepared_without_download(tmp_path):
  config = _dataset_config("mnist", tmp_path, download=False)
  start = time.monotonic()
  with pytest.raises(isjax.data.DatasetNotPreparedError) as error:
    isjax.data.get_dataset_info(config)
  assert time.monotonic() - start < 10
  message = str(error.value)
  assert os.path.join(str(tmp_path), "mnist") in message
  assert "dataset.download=False" in message
  assert "--config.dataset.data_dir=DIR" in message
  assert os.path.join(str(tmp_path), "downloads", "manual") in message
  assert "--config.dataset.manual_dir=DIR" in message
  assert "train-images-idx3-ubyte.gz" in message
  assert "mnist5k" in message


def test_unreachable_network_fails_fast(tmp_path, monkeypatch):
  download_calls = []
  monkeypatch.setattr(urllib.request, "getproxies", dict)
  monkeypatch.setattr(
      tfds.core.DatasetBuilder, "download_and_prepare",
      lambda *args, **kwargs: download_calls.append(args))

  def refuse_connection(address, timeout):
    raise OSError(f"[Errno -2] Name or service not known: {address[0]}")

  monkeypatch.setattr(socket, "create_connection", refuse_connection)
  with pytest.raises(isjax.data.DatasetNotPreparedError) as error:
    isjax.data.get_dataset_info(_dataset_config("mnist", tmp_path))
  message = str(error.value)
  assert "network cannot be reached" in message
  assert "storage.googleapis.com:443" in message
  assert "--config.dataset.data_dir=DIR" in message
  assert not download_calls


def _allow_connections(monkeypatch):
  class _Connection:

    def close(self):
      pass

  monkeypatch.setattr(urllib.request, "getproxies", dict)
  monkeypatch.setattr(socket, "create_connection",
                      lambda address, timeout: _Connection())


def test_failed_download_becomes_clear_error(tmp_path, monkeypatch):
  _allow_connections(monkeypatch)

  def fail_download(*args, **kwargs):
    raise requests.exceptions.ConnectionError("Max retries exceeded")

  monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                      fail_download)
  with pytest.raises(isjax.data.DatasetNotPreparedError,
                     match="download failed.*Max retries exceeded"):
    isjax.data.get_dataset_info(_dataset_config("mnist", tmp_path))


def test_missing_module_names_package(tmp_path, monkeypatch):
  _allow_connections(monkeypatch)

  def fail_import(*args, **kwargs):
    raise ModuleNotFoundError("No module named 'importlib_resources'",
                              name="importlib_resources")

  monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                      fail_import)
  with pytest.raises(ImportError, match="pip install importlib_resources"):
    isjax.data.get_dataset_info(_dataset_config("mnist", tmp_path))


def test_manual_dataset_missing_files(tmp_path):
  # imagenet2012 is prepared only from manually downloaded files, so TFDS
  # fails at once without touching the network.
  manual_dir = tmp_path / "manual"
  config = _dataset_config("imagenet2012", tmp_path, manual_dir=str(manual_dir))
  with pytest.raises(isjax.data.DatasetNotPreparedError) as error:
    isjax.data.get_dataset_info(config)
  message = str(error.value)
  assert str(manual_dir) in message
  assert "ILSVRC2012_img_train.tar" in message


def test_hosts_to_check(tmp_path):
  manual_dir = tmp_path / "manual"
  mnist = tfds.builder("mnist", data_dir=str(tmp_path))
  assert tfds_preparation.hosts_to_check(mnist, str(manual_dir)) == [
      ("storage.googleapis.com", 443)]

  # Files already in the manual directory are not downloaded.
  os.makedirs(manual_dir)
  for url_info in mnist.url_infos.values():
    (manual_dir / url_info.filename).write_bytes(b"")
  assert tfds_preparation.hosts_to_check(mnist, str(manual_dir)) == []

  imagenet = tfds.builder("imagenet2012", data_dir=str(tmp_path))
  assert tfds_preparation.hosts_to_check(imagenet, str(manual_dir)) == []


def test_non_image_dataset_rejected(tmp_path):
  _write_metadata(tmp_path, "imdb_reviews", 4)
  with tfds.testing.mock_data(num_examples=4, data_dir=str(tmp_path)):
    with pytest.raises(ValueError, match="not an image classification dataset"):
      isjax.data.get_dataset_info(_dataset_config("imdb_reviews", tmp_path))


def test_variable_size_needs_image_size(tmp_path):
  _write_metadata(tmp_path, "imagenet2012", 4)
  with tfds.testing.mock_data(num_examples=4, data_dir=str(tmp_path)):
    with pytest.raises(ValueError, match="varying size.*image_size"):
      isjax.data.get_dataset_info(_dataset_config("imagenet2012", tmp_path))
    config = _dataset_config("imagenet2012", tmp_path, image_size=(8, 8))
    assert isjax.data.get_dataset_info(config).image_shape == (8, 8, 3)


def test_configured_subsplit_counted(metadata_dir):
  with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES,
                              data_dir=str(metadata_dir)):
    config = _dataset_config("mnist", metadata_dir, train_split="train[:50%]")
    info = isjax.data.get_dataset_info(config)
  assert info.num_examples["train[:50%]"] == NUM_MOCK_EXAMPLES // 2
  assert isjax.data.steps_per_epoch(info, "train[:50%]", 4) == 3


def test_configured_split_invalid(metadata_dir):
  with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES,
                              data_dir=str(metadata_dir)):
    config = _dataset_config("mnist", metadata_dir, eval_split="validation")
    with pytest.raises(ValueError, match="'validation'.*\\['test', 'train'\\]"):
      isjax.data.get_dataset_info(config)
