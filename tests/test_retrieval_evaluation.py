"""Tests of evaluate_retrieval and eval_retrieval.py on a trained mnist5k workdir."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

import isjax
from configs import fashion_mnist_retrieval
from isjax import data
from isjax.retrieval import compute_retrieval_metrics
from isjax.retrieval import evaluation
from isjax.training import train_and_evaluate
from test_train_loop import read_jsonl
from test_train_loop import tiny_config

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def metric_learning_run(tmp_path_factory):
  """8 steps of softmax + contrastive + center loss on mnist5k."""
  workdir = str(tmp_path_factory.mktemp("retrieval"))
  config = tiny_config(**{"loss.contrastive_weight": 0.5,
                          "loss.center_weight": 0.1})
  config.paper = fashion_mnist_retrieval.get_config().paper
  train_and_evaluate(config, workdir)
  return workdir


def test_retrieval_config_paper_numbers(metric_learning_run):
  with open(os.path.join(metric_learning_run, "results.json")) as results_file:
    results = json.load(results_file)
  assert results["paper"]["table"] == "Table 6"
  assert "paper_eval_accuracy" not in results

  result = evaluation.evaluate_retrieval(metric_learning_run, ks=(1, 10))
  assert result["paper"]["recall@1"] == 0.8875  # With IS, as trained here.
  table = evaluation.format_table(result)
  assert "88.75%" in table
  assert "97.33%" in table  # The paper's Recall@10 with IS.


def test_metric_learning_losses_are_logged(metric_learning_run):
  events = read_jsonl(os.path.join(metric_learning_run, "metrics.jsonl"))
  train_events = [event for event in events if "train_loss" in event]
  for event in train_events:
    parts = (event["train_softmax_loss"] + event["train_contrastive_loss"] +
             event["train_center_loss"])
    assert abs(parts - event["train_loss"]) < 1e-4 * abs(event["train_loss"])


def test_metrics_match_direct_computation(metric_learning_run, tmp_path):
  output = str(tmp_path / "retrieval.json")
  export = str(tmp_path / "embeddings.npz")
  result = evaluation.evaluate_retrieval(
      metric_learning_run, ks=(1, 5), output_path=output, export_path=export,
      query_block_size=300, gallery_block_size=700)

  trained = isjax.load_trained(metric_learning_run)
  images, labels = data.load_split_arrays(trained.config.dataset, "test")
  embeddings = trained.embed(images)
  # The same blocks give bit-identical distances, so even near-ties rank alike.
  expected = compute_retrieval_metrics(embeddings, embeddings, labels, labels,
                                       (1, 5), exclude_self=True,
                                       query_block_size=300,
                                       gallery_block_size=700)
  for key in ("recall@1", "recall@5", "tp@1", "tp@5", "map@r", "r_precision"):
    assert abs(result[key] - expected[key]) < 1e-9, key
    assert 0.0 <= result[key] <= 1.0
  accuracy = np.mean(np.argmax(trained.predict(images), axis=-1) == labels)
  assert abs(result["eval_accuracy"] - accuracy) < 1e-9
  assert result["num_queries"] == 1000
  assert result["step"] == 8

  with open(output) as output_file:
    saved = json.load(output_file)
  assert saved["recall@1"] == result["recall@1"]
  assert saved["options"]["distance"] == "euclidean"
  assert saved["step"] == 8

  exported = np.load(export)
  np.testing.assert_allclose(exported["embeddings"], embeddings, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_array_equal(exported["labels"], labels)
  np.testing.assert_array_equal(exported["indices"], np.arange(1000))


def test_train_gallery_and_cosine(metric_learning_run):
  result = evaluation.evaluate_retrieval(
      metric_learning_run, gallery="train", distance="cosine",
      features="inward_scaled", ks=(1,))
  trained = isjax.load_trained(metric_learning_run)
  dataset = trained.config.dataset
  train_images, train_labels = data.load_split_arrays(dataset, "train")
  test_images, test_labels = data.load_split_arrays(dataset, "test")
  expected = compute_retrieval_metrics(
      trained.embed(test_images, features="inward_scaled"),
      trained.embed(train_images, features="inward_scaled"),
      test_labels, train_labels, (1,), distance="cosine")
  assert abs(result["recall@1"] - expected["recall@1"]) < 1e-9
  assert abs(result["map@r"] - expected["map@r"]) < 1e-9


@pytest.mark.parametrize("options, error, fragment", [
    ({"features": "pool2"}, ValueError, "Unknown features 'pool2'"),
    ({"ks": (1, 1000)}, ValueError, "K=1000 is larger than the gallery: 999"),
    ({"step": 3}, ValueError, "saved steps are [8]"),
    ({"distance": "manhattan"}, ValueError, "valid distances are"),
])
def test_bad_options_raise_without_output(metric_learning_run, tmp_path,
                                          options, error, fragment):
  output = tmp_path / "out.json"
  with pytest.raises(error) as raised:
    evaluation.evaluate_retrieval(metric_learning_run, output_path=str(output),
                                  **options)
  assert fragment in str(raised.value)
  assert not output.exists()


def test_dataset_with_other_image_shape_raises(metric_learning_run, tmp_path):
  root = tmp_path / "folder"
  for split in ("train", "test"):
    for label in ("a", "b"):
      (root / split / label).mkdir(parents=True)
      for index in range(2):
        Image.fromarray(np.full((8, 8), 40 * index, np.uint8)).save(
            root / split / label / f"{index}.png")
  with pytest.raises(ValueError, match=r"images of shape \(8, 8, 1\).*\(28, 28, 1\)"):
    evaluation.evaluate_retrieval(
        metric_learning_run,
        dataset_overrides={"name": "image_folder", "data_dir": str(root)})


def test_workdir_without_checkpoints_raises(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a training workdir"):
    evaluation.evaluate_retrieval(str(tmp_path))


def test_command_line_prints_table_and_writes_json(metric_learning_run, tmp_path):
  output = tmp_path / "cli.json"
  completed = subprocess.run(
      [sys.executable, os.path.join(REPOSITORY, "eval_retrieval.py"),
       "--workdir", metric_learning_run, "--output", str(output), "--ks=1,10"],
      capture_output=True, text=True, timeout=300, check=False, cwd=REPOSITORY)
  assert completed.returncode == 0, completed.stderr[-2000:]
  saved = json.loads(output.read_text())
  assert f"{100 * saved['recall@10']:.2f}%" in completed.stdout
  assert "MAP@R" in completed.stdout
  assert set(saved["options"]["ks"]) == {1, 10}
