"""Image preprocessing shared by every source: optional resize, scale to [0, 1].

The experimental setup of the inward-scaling paper that proposed SimpleNet
(Sec. 4.1) describes no preprocessing or augmentation, so the pipeline only
scales pixels to [0, 1], with no mean subtraction and no augmentation.
"""

import numbers

import tensorflow as tf


def validate_image_size(image_size):
  """Return `image_size` as a (height, width) tuple of ints, or None.

  Args:
    image_size: `dataset.image_size` from the config: None, or a pair of
      positive integers.

  Returns:
    None or (height, width).

  Raises:
    ValueError: if `image_size` is not None and not two positive integers.
  """
  if image_size is None:
    return None
  valid = (
      isinstance(image_size, (tuple, list)) and len(image_size) == 2 and
      all(isinstance(size, numbers.Integral) and not isinstance(size, bool) and
          size > 0 for size in image_size))
  if not valid:
    raise ValueError(
        "dataset.image_size must be None or (height, width) with two positive "
        f"integers, got {image_size!r}.")
  return (int(image_size[0]), int(image_size[1]))


def preprocess_image(image, image_size):
  """Resize (optionally) and scale uint8 images to float32 in [0, 1].

  Works on one image [H, W, C] or a batch [N, H, W, C].

  Args:
    image: uint8 tensor or array with values in [0, 255].
    image_size: None to keep the size, or (height, width). Resizing is bilinear
      with antialiasing, so downscaling averages pixels instead of aliasing.

  Returns:
    A float32 tensor in [0, 1].
  """
  image = tf.convert_to_tensor(image)
  if image_size is None:
    image = tf.cast(image, tf.float32)
  else:
    image = tf.image.resize(
        image, image_size, method="bilinear", antialias=True)
    # Bilinear interpolation stays in [0, 255], but float rounding can step a
    # hair outside it.
    image = tf.clip_by_value(image, 0.0, 255.0)
  return image / 255.0


def convert_channels(image, channels):
  """Convert a decoded uint8 image [H, W, 1..4] to 1 or 3 channels.

  Alpha channels are dropped. Gray becomes RGB by repeating the channel, and RGB
  becomes gray by `tf.image.rgb_to_grayscale` (ITU-R 601 luma weights).

  Args:
    image: uint8 tensor [H, W, C] from `tf.io.decode_image` with channels=0.
    channels: the number of channels wanted, 1 or 3.

  Returns:
    A uint8 tensor [H, W, channels].
  """
  # BMP and GIF decoders reject channels=1, so images are decoded with their own
  # channel count and converted here instead of in the decoder.
  num_channels = tf.shape(image)[-1]
  is_gray = num_channels < 3  # Gray, or gray with alpha.
  if channels == 1:
    image = tf.cond(is_gray, lambda: image[..., :1],
                    lambda: tf.image.rgb_to_grayscale(image[..., :3]))
  else:
    image = tf.cond(is_gray,
                    lambda: tf.image.grayscale_to_rgb(image[..., :1]),
                    lambda: image[..., :3])
  return image
