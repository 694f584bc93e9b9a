"""Tests for image folder datasets (<root>/<split>/<class>/<image>)."""

import itertools
import os

import numpy as np
from PIL import Image
import pytest

from configs import default
import isjax.data

# Unsorted, so that the tests check that labels follow the sorted names.
CLASS_FOLDERS = ("zeta", "alpha", "mid")
SORTED_CLASSES = ("alpha", "mid", "zeta")


def _dataset_config(root, **overrides):
  config = default.get_config().dataset
  config.name = "image_folder"
  config.data_dir = str(root)
  config.update(overrides)
  return config


def _write_image(path, pixels):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(pixels).save(path)


def _gray_image(value, size=(8, 8)):
  """A gray image whose pixels are value, value + 1, ... (unique per image)."""
  pixels = (np.arange(size[0] * size[1]) + value) % 256
  return pixels.astype(np.uint8).reshape(size)


@pytest.fixture
def gray_root(tmp_path):
  """3 classes of 8x8 grayscale PNGs: 3 train and 2 test images per class.

  Returns the root and a dict (split, class name) -> list of pixel arrays in
  file name order.
  """
  written = {}
  value = 0
  for split, count in (("train", 3), ("test", 2)):
    for class_name in CLASS_FOLDERS:
      for index in range(count):
        pixels = _gray_image(value)
        value += 7
        _write_image(tmp_path / split / class_name / f"img{index}.png", pixels)
        written.setdefault((split, class_name), []).append(pixels)
  # Files with other extensions are ignored.
  (tmp_path / "train" / "alpha" / "notes.txt").write_text("not an image")
  return tmp_path, written


def test_info_sorted_classes(gray_root):
  root, _ = gray_root
  info = isjax.data.get_dataset_info(_dataset_config(root))
  assert info.name == "image_folder"
  assert info.class_names == SORTED_CLASSES
  assert info.num_classes == 3
  assert info.image_shape == (8, 8, 1)
  assert info.num_examples == {"train": 9, "test": 6}


def test_pixels_and_labels_round_trip(gray_root):
  root, written = gray_root
  images, labels = isjax.data.load_split_arrays(_dataset_config(root), "test")
  expected_images, expected_labels = [], []
  for label, class_name in enumerate(SORTED_CLASSES):
    for pixels in written[("test", class_name)]:
      expected_images.append(pixels[..., None] / 255.0)
      expected_labels.append(label)
  assert images.dtype == np.float32
  assert labels.dtype == np.int32
  np.testing.assert_array_equal(labels, expected_labels)
  np.testing.assert_allclose(images, np.stack(expected_images), atol=1e-7)


def test_train_epoch_and_eval_once(gray_root):
  root, _ = gray_root
  config = _dataset_config(root)
  train_images, _ = isjax.data.load_split_arrays(config, "train")
  ids = {image.tobytes(): index for index, image in enumerate(train_images)}

  iterator = isjax.data.create_train_iterator(
      config, global_batch_size=3, seed=0)
  epoch = list(itertools.islice(iterator, 3))
  seen = [ids[image.tobytes()] for batch in epoch for image in batch["image"]]
  assert sorted(seen) == list(range(9))
  assert epoch[0]["image"].shape == (3, 8, 8, 1)

  eval_batches = list(isjax.data.create_eval_iterator(
      config, split="train", global_batch_size=4))
  assert len(eval_batches) == 3  # ceil(9 / 4)
  masks = np.concatenate([batch["mask"] for batch in eval_batches])
  assert masks.tolist() == [True] * 9 + [False] * 3
  evaluated = np.concatenate([batch["image"] for batch in eval_batches])
  np.testing.assert_array_equal(evaluated[:9], train_images)
  assert not evaluated[9:].any()


def test_train_resume(gray_root):
  root, _ = gray_root
  config = _dataset_config(root)
  fresh = list(itertools.islice(isjax.data.create_train_iterator(
      config, global_batch_size=2, seed=1), 6))
  # 9 // 2 = 4 steps per epoch; start in the middle of epoch 0.
  resumed = list(itertools.islice(isjax.data.create_train_iterator(
      config, global_batch_size=2, seed=1, start_step=3), 3))
  for expected, actual in zip(fresh[3:], resumed):
    np.testing.assert_array_equal(expected["image"], actual["image"])
    np.testing.assert_array_equal(expected["label"], actual["label"])


def test_rgb_and_other_formats(tmp_path):
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
  _write_image(tmp_path / "train" / "a" / "0.PNG", rgb)  # Upper-case extension.
  _write_image(tmp_path / "train" / "a" / "1.bmp", rgb)
  _write_image(tmp_path / "train" / "b" / "2.jpeg", rgb)
  _write_image(tmp_path / "train" / "b" / "3.gif", rgb)
  config = _dataset_config(tmp_path)
  info = isjax.data.get_dataset_info(config)
  assert info.image_shape == (6, 5, 3)
  assert info.num_examples == {"train": 4}

  images, labels = isjax.data.load_split_arrays(config, "train")
  assert labels.tolist() == [0, 0, 1, 1]
  # PNG and BMP are lossless.
  np.testing.assert_allclose(images[0], rgb / 255.0, atol=1e-7)
  np.testing.assert_allclose(images[1], rgb / 255.0, atol=1e-7)
  # JPEG and the 256-colour GIF palette are lossy; only the shape is exact.
  assert images[2].shape == (6, 5, 3)
  assert images[3].shape == (6, 5, 3)


def test_gray_first_image_converts_rgb(tmp_path):
  gray = _gray_image(10, size=(4, 4))
  rgb = np.stack([gray, gray, gray], axis=-1)
  _write_image(tmp_path / "train" / "a" / "0.png", gray)
  _write_image(tmp_path / "train" / "a" / "1.png", rgb)
  images, _ = isjax.data.load_split_arrays(_dataset_config(tmp_path), "train")
  assert images.shape == (2, 4, 4, 1)  # Channels follow the first image.
  # rgb_to_grayscale of equal R, G, B gives the same gray level up to rounding.
  np.testing.assert_allclose(images[1], images[0], atol=1.5 / 255)


def test_mixed_sizes_need_image_size(tmp_path):
  _write_image(tmp_path / "train" / "a" / "0.png", _gray_image(0, (8, 8)))
  _write_image(tmp_path / "train" / "a" / "1.png", _gray_image(0, (10, 12)))
  with pytest.raises(ValueError) as error:
    isjax.data.get_dataset_info(_dataset_config(tmp_path))
  message = str(error.value)
  assert "0.png is 8x8" in message
  assert "1.png is 10x12" in message
  assert "dataset.image_size" in message

  config = _dataset_config(tmp_path, image_size=(6, 6))
  assert isjax.data.get_dataset_info(config).image_shape == (6, 6, 1)
  images, _ = isjax.data.load_split_arrays(config, "train")
  assert images.shape == (2, 6, 6, 1)


def test_eval_split_other_size(tmp_path):
  _write_image(tmp_path / "train" / "a" / "0.png", _gray_image(0, size=(8, 8)))
  _write_image(tmp_path / "test" / "a" / "0.png", _gray_image(0, size=(9, 9)))
  with pytest.raises(ValueError, match="9x9.*8x8.*image_size"):
    isjax.data.load_split_arrays(_dataset_config(tmp_path), "test")


def test_root_missing(tmp_path):
  missing = tmp_path / "no_such_folder"
  with pytest.raises(FileNotFoundError, match="no_such_folder.*data_dir"):
    isjax.data.get_dataset_info(_dataset_config(missing))


def test_train_split_missing_lists_splits(tmp_path):
  _write_image(tmp_path / "training" / "a" / "0.png", _gray_image(0))
  _write_image(tmp_path / "test" / "a" / "0.png", _gray_image(0))
  with pytest.raises(FileNotFoundError) as error:
    isjax.data.get_dataset_info(_dataset_config(tmp_path))
  assert os.path.join(str(tmp_path), "train") in str(error.value)
  assert "['test', 'training']" in str(error.value)


def test_eval_split_missing_lists_splits(gray_root):
  root, _ = gray_root
  with pytest.raises(ValueError, match="'validation'.*'test', 'train'"):
    isjax.data.create_eval_iterator(
        _dataset_config(root), split="validation", global_batch_size=2)


def test_empty_class_folder(tmp_path):
  _write_image(tmp_path / "train" / "a" / "0.png", _gray_image(0))
  os.makedirs(tmp_path / "train" / "b")
  (tmp_path / "train" / "b" / "scan.tiff").write_bytes(b"")
  with pytest.raises(ValueError) as error:
    isjax.data.get_dataset_info(_dataset_config(tmp_path))
  message = str(error.value)
  assert os.path.join(str(tmp_path), "train", "b") in message
  assert ".png, .jpg, .jpeg, .bmp, .gif" in message


def test_split_without_class_folders(tmp_path):
  os.makedirs(tmp_path / "train")
  with pytest.raises(ValueError, match="no class folders"):
    isjax.data.get_dataset_info(_dataset_config(tmp_path))


def test_class_missing_from_train(tmp_path):
  _write_image(tmp_path / "train" / "a" / "0.png", _gray_image(0))
  _write_image(tmp_path / "test" / "b" / "0.png", _gray_image(0))
  with pytest.raises(ValueError, match=r"\['b'\].*\['a'\]"):
    isjax.data.get_dataset_info(_dataset_config(tmp_path))
