"""`evaluate_retrieval`: retrieval metrics of a trained workdir.

The protocol and metrics of Sec. 4.5 and Table 6 of Janjua et al., "Learning
Inward Scaled Hypersphere Embedding", arXiv:1810.07037 (2018), plus MAP@R.
"""

import json
import os

from absl import logging
import jax
import numpy as np

from isjax.retrieval import knn
from isjax.retrieval import metrics as metrics_lib

GALLERY_CHOICES = ("same", "train")


def _validate_options(trained, *, gallery, distance, features, ks):
  if gallery not in GALLERY_CHOICES:
    raise ValueError(
        f"Unknown gallery {gallery!r}; valid choices are {GALLERY_CHOICES}.")
  if distance not in knn.DISTANCES:
    raise ValueError(
        f"Unknown distance {distance!r}; valid distances are {knn.DISTANCES}.")
  if features not in trained.output_names:
    raise ValueError(
        f"Unknown features {features!r}; this model produces "
        f"{list(trained.output_names)}.")
  if not ks or any(int(k) < 1 for k in ks):
    raise ValueError(f"Every K must be an integer >= 1, got {list(ks)}.")


def _dataset_config(trained, dataset_overrides):
  dataset_config = trained.config.dataset.copy_and_resolve_references()
  for field, value in (dataset_overrides or {}).items():
    if field not in dataset_config:
      raise ValueError(
          f"Unknown dataset field {field!r}; valid fields are "
          f"{sorted(dataset_config.keys())}.")
    dataset_config[field] = value
  return dataset_config


def _embed_split(trained, dataset_config, split, features):
  """Return (features, logits, labels) of a whole split as NumPy arrays."""
  from isjax import data  # pylint: disable=g-import-not-at-top

  images, labels = data.load_split_arrays(dataset_config, split)
  outputs = trained.apply(images)
  return outputs[features], outputs["logits"], labels


def _write_json_atomically(path, content):
  temporary = f"{path}.tmp"
  with open(temporary, "w") as json_file:
    json.dump(content, json_file, indent=2, sort_keys=True)
    json_file.write("\n")
  os.replace(temporary, path)


def evaluate_retrieval(workdir, *, step=None, split="test", gallery="same",
                       distance="euclidean", features="embedding",
                       ks=metrics_lib.DEFAULT_KS, dataset_overrides=None,
                       output_path=None, export_path=None,
                       query_block_size=1024, gallery_block_size=8192):
  """Embed a split with a trained model and compute retrieval metrics.

  Queries are the images of `split`. With ``gallery="same"`` the gallery is
  the same split and each query's own image is excluded (the paper's unimodal
  protocol, Sec. 4.5); with ``gallery="train"`` it is the dataset's training
  split. Nearest neighbours are exact and computed blockwise
  (`isjax.retrieval.nearest_neighbors`).

  Args:
    workdir: a workdir written by `train.py`.
    step: checkpoint step; None for the latest.
    split: the query split.
    gallery: ``"same"`` or ``"train"``.
    distance: ``"euclidean"`` (the paper's) or ``"cosine"``.
    features: the model output to embed with (`TrainedModel.output_names`).
    ks: the K of Recall@K and TP@K.
    dataset_overrides: {field: value} applied to the run's dataset config, to
      evaluate on another dataset with the same image shape.
    output_path: if given, the result is written there as JSON.
    export_path: if given, the query split's ``embeddings``, ``labels`` and
      ``indices`` (positions in the split) are written there as .npz.
    query_block_size: queries per kNN block.
    gallery_block_size: gallery items per kNN block.

  Returns:
    A dict with ``recall@K``, ``tp@K``, ``map@r``, ``r_precision`` (fractions
    in [0, 1]), ``eval_accuracy`` of the same checkpoint on the query split,
    the query counts, the options and the checkpoint step.
  """
  from isjax import data  # pylint: disable=g-import-not-at-top
  from isjax.inference import load_trained  # pylint: disable=g-import-not-at-top
  from isjax.training import sharding  # pylint: disable=g-import-not-at-top

  trained = load_trained(workdir, step)
  ks = tuple(sorted({int(k) for k in ks}))
  _validate_options(trained, gallery=gallery, distance=distance,
                    features=features, ks=ks)
  dataset_config = _dataset_config(trained, dataset_overrides)

  info = data.get_dataset_info(dataset_config)
  if tuple(info.image_shape) != tuple(trained.image_shape):
    raise ValueError(
        f"Dataset {info.name!r} has images of shape {tuple(info.image_shape)}, "
        f"but the checkpoint in {workdir} was trained on "
        f"{tuple(trained.image_shape)}. Choose a dataset with the same shape, "
        "or set --config.dataset.image_size when training.")

  # The kNN needs max K candidates: the gallery, less the query's own item.
  # Checked from the split sizes, before any image is embedded.
  if gallery == "same":
    candidates = data.split_size(info, split) - 1
  else:
    candidates = data.split_size(info, dataset_config.train_split)
  if ks[-1] > candidates:
    raise ValueError(
        f"K={ks[-1]} is larger than the gallery: {candidates} candidates per "
        "query. Choose smaller --ks.")

  query_features, query_logits, query_labels = _embed_split(
      trained, dataset_config, split, features)
  if gallery == "same":
    gallery_features, gallery_labels = query_features, query_labels
  else:
    gallery_features, _, gallery_labels = _embed_split(
        trained, dataset_config, dataset_config.train_split, features)

  mesh = sharding.create_mesh() if jax.device_count() > 1 else None
  result = metrics_lib.compute_retrieval_metrics(
      query_features, gallery_features, query_labels, gallery_labels, ks,
      distance=distance, exclude_self=gallery == "same",
      query_block_size=query_block_size, gallery_block_size=gallery_block_size,
      mesh=mesh)

  result["eval_accuracy"] = float(
      np.mean(np.argmax(query_logits, axis=-1) == query_labels))
  result.update({
      "step": trained.step,
      "workdir": os.path.abspath(workdir),
      "options": {
          "split": split, "gallery": gallery, "distance": distance,
          "features": features, "ks": list(ks), "dataset": info.name,
      },
  })
  paper = trained.config.get("paper")
  if paper is not None and "retrieval_with_is" in paper:
    setting = ("retrieval_with_is" if trained.config.model.use_inward_scale
               else "retrieval_without_is")
    result["paper"] = {"table": paper.table, "dataset": paper.dataset,
                       **paper[setting].to_dict()}

  if result["num_queries_without_positives"]:
    logging.warning(
        "%d queries have no other gallery item of their class; they are left "
        "out of recall, TP, MAP@R and R-precision.",
        result["num_queries_without_positives"])

  if output_path:
    _write_json_atomically(output_path, result)
  if export_path:
    temporary = f"{export_path}.tmp.npz"
    np.savez(temporary, embeddings=query_features, labels=query_labels,
             indices=np.arange(len(query_labels)))
    os.replace(temporary, export_path)
  return result


def format_table(result):
  """Return the metrics of `result` as a small table in percent."""
  ks = result["options"]["ks"]
  paper = result.get("paper", {})

  def paper_value(key):
    return f"{100 * paper[key]:>7.2f}%" if key in paper else f"{'-':>8}"

  header = f"{'K':>6} {'Recall@K':>10} {'TP@K':>8}"
  if paper:
    header += f"   paper ({paper['table']}, {paper['dataset']}): Recall@K, TP@K"
  lines = [header]
  for k in ks:
    line = (f"{k:>6} {100 * result[f'recall@{k}']:>9.2f}% "
            f"{100 * result[f'tp@{k}']:>7.2f}%")
    if paper:
      line += f"   {paper_value(f'recall@{k}')} {paper_value(f'tp@{k}')}"
    lines.append(line)
  lines.append(f"MAP@R {100 * result['map@r']:.2f}%   R-precision "
               f"{100 * result['r_precision']:.2f}%   classification accuracy "
               f"{100 * result['eval_accuracy']:.2f}%")
  lines.append(f"{result['num_queries']} queries (checkpoint step "
               f"{result['step']}, {result['options']['distance']} distance on "
               f"'{result['options']['features']}', gallery "
               f"'{result['options']['gallery']}')")
  return "\n".join(lines)
