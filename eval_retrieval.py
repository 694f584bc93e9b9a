r"""Retrieval metrics of a trained workdir: Recall@K, TP@K, MAP@R, R-precision.

  python eval_retrieval.py --workdir runs/default
  python eval_retrieval.py --workdir runs/default --gallery=train \
      --distance=cosine --features=inward_scaled --output=retrieval.json
"""

from absl import app
from absl import flags

from isjax.retrieval import evaluation
from isjax.training import metric_logging

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir written by train.py.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")
_SPLIT = flags.DEFINE_string("split", "test", "The query split.")
_GALLERY = flags.DEFINE_enum(
    "gallery", "same", evaluation.GALLERY_CHOICES,
    "'same': the query split without each query's own image (the paper's "
    "protocol); 'train': the training split.")
_DISTANCE = flags.DEFINE_enum(
    "distance", "euclidean", ["euclidean", "cosine"], "Distance for the kNN.")
_FEATURES = flags.DEFINE_string(
    "features", "embedding",
    "Model output to retrieve with: features, inward_scaled, embedding or logits.")
_KS = flags.DEFINE_list("ks", ["1", "5", "10"], "The K of Recall@K and TP@K.")
_OUTPUT = flags.DEFINE_string("output", None, "Write the metrics to this JSON file.")
_EXPORT = flags.DEFINE_string(
    "export", None,
    "Write the query split's embeddings, labels and indices to this .npz file.")
_DATASET = flags.DEFINE_string(
    "dataset", None,
    "Evaluate on this dataset instead of the training one (same image shape).")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "dataset.data_dir for --dataset (TFDS or image folder).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  metric_logging.hide_checkpointer_info_logs()
  try:
    ks = [int(k) for k in _KS.value]
  except ValueError as error:
    raise app.UsageError(f"--ks must be integers, got {_KS.value}.") from error

  overrides = {}
  if _DATASET.value:
    overrides["name"] = _DATASET.value
  if _DATA_DIR.value:
    overrides["data_dir"] = _DATA_DIR.value

  result = evaluation.evaluate_retrieval(
      _WORKDIR.value, step=_STEP.value, split=_SPLIT.value,
      gallery=_GALLERY.value, distance=_DISTANCE.value,
      features=_FEATURES.value, ks=ks, dataset_overrides=overrides,
      output_path=_OUTPUT.value, export_path=_EXPORT.value)
  print(evaluation.format_table(result))
  for path in (_OUTPUT.value, _EXPORT.value):
    if path:
      print(f"Wrote {path}")


if __name__ == "__main__":
  app.run(main)
