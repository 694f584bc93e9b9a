"""Map `dataset.name` to a data source.

Every source has an `info` (`DatasetInfo`) and the methods `train_batches`,
`eval_batches` and `split_arrays`, which `pipeline` calls:

* "mnist5k": `indexed_source.ArraySource` over the embedded MNIST subset.
* "image_folder": `image_folder.ImageFolderSource` over
  <dataset.data_dir>/<split>/<class>/<image>.
* any other name: `tfds_source.TfdsSource` if TFDS has a builder of that name.
"""

import tensorflow_datasets as tfds

from isjax.data import image_folder
from isjax.data import indexed_source
from isjax.data import mnist5k
from isjax.data import preprocessing
from isjax.data import tfds_source

# The TFDS datasets of the inward-scaling paper's experiments (Tables 2, 3, 5
# and 6, and the ImageNet subset of its Sec. 4.4). Any other registered TFDS
# image classification dataset works too.
COMMON_TFDS_NAMES = (
    "mnist", "fashion_mnist", "cifar10", "cifar100", "svhn_cropped",
    "imagenet2012")


def _unknown_name_message(name):
  return (
      f"Unknown dataset name {name!r}. Valid names: {mnist5k.NAME!r} (the "
      "embedded 5,000-image MNIST subset, works offline), "
      f"{image_folder.NAME!r} (images in "
      "<dataset.data_dir>/<split>/<class>/<image>), or any TFDS catalogue "
      f"name, such as {', '.join(repr(n) for n in COMMON_TFDS_NAMES)} "
      "(tfds.list_builders() lists them all).")


def create_source(dataset_config):
  """Create the source that `dataset_config` names.

  Args:
    dataset_config: the `config.dataset` ConfigDict (fields name, data_dir,
      manual_dir, download, train_split, eval_split, shuffle_buffer,
      image_size).

  Returns:
    An `ArraySource`, `ImageFolderSource` or `TfdsSource`.

  Raises:
    ValueError: for an unknown name (the message lists the valid ones) or an
      invalid field.
    FileNotFoundError: for a missing image folder.
    tfds_preparation.DatasetNotPreparedError: for a TFDS dataset that is not
      prepared and cannot be prepared here.
  """
  name = dataset_config.name
  image_size = preprocessing.validate_image_size(dataset_config.image_size)

  if name == mnist5k.NAME:
    return indexed_source.ArraySource(
        name, mnist5k.load_mnist5k(), mnist5k.CLASS_NAMES, image_size)

  if name == image_folder.NAME:
    return image_folder.ImageFolderSource(
        dataset_config.data_dir,
        train_split=dataset_config.train_split,
        image_size=image_size)

  if not isinstance(name, str) or not name:
    raise ValueError(_unknown_name_message(name))
  try:
    return tfds_source.TfdsSource(
        name,
        data_dir=dataset_config.data_dir,
        manual_dir=dataset_config.manual_dir,
        download=dataset_config.download,
        image_size=image_size,
        shuffle_buffer=dataset_config.shuffle_buffer,
        configured_splits=(dataset_config.train_split,
                           dataset_config.eval_split))
  except tfds.core.registered.DatasetNotFoundError as error:
    raise ValueError(_unknown_name_message(name)) from error
