"""End-to-end tests of train_and_evaluate on mnist5k: outputs, resume, errors."""

import glob
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import default as default_config
import isjax
from isjax import data
from isjax.training import NonFiniteLossError
from isjax.training import train_and_evaluate
from isjax.training.checkpointing import CheckpointMismatchError

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**overrides):
  """A few-second configuration: mnist5k, a narrow SimpleNet, 8 steps/epoch."""
  config = default_config.get_config()
  config.batch_size = 500
  config.num_epochs = 1
  config.log_every_steps = 4
  config.model.conv_features = (2, 4, 4)
  config.model.embedding_dim = 8
  config.optimizer.schedule = "constant"
  config.optimizer.learning_rate = 3e-3
  for name, value in overrides.items():
    target = config
    *parents, field = name.split(".")
    for parent in parents:
      target = target[parent]
    target[field] = value
  return config


def read_jsonl(path):
  with open(path) as jsonl_file:
    return [json.loads(line) for line in jsonl_file]


def checkpoint_steps(workdir):
  return sorted(int(os.path.basename(path)) for path in glob.glob(
      os.path.join(workdir, "checkpoints", "*")) if os.path.basename(path).isdigit())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("finished"))
  train_and_evaluate(tiny_config(), workdir)
  return workdir


def test_run_writes_every_output(finished_run):
  for name in ("config.json", "metrics.jsonl", "results.json"):
    assert os.path.exists(os.path.join(finished_run, name)), name
  assert glob.glob(os.path.join(finished_run, "events.out.tfevents.*"))
  # 4,000 training images / 500 per batch = 8 steps in the single epoch.
  assert checkpoint_steps(finished_run) == [8]

  events = read_jsonl(os.path.join(finished_run, "metrics.jsonl"))
  assert all("step" in event for event in events)
  assert [event["step"] for event in events if "train_loss" in event] == [4, 8]
  evaluations = [event for event in events if "eval_accuracy" in event]
  assert len(evaluations) == 1
  assert evaluations[0]["eval_count"] == 1000
  assert "eval_loss" in evaluations[0]

  with open(os.path.join(finished_run, "results.json")) as results_file:
    results = json.load(results_file)
  assert results["eval_accuracy"] == evaluations[0]["eval_accuracy"]
  assert results["step"] == 8

  with open(os.path.join(finished_run, "config.json")) as config_file:
    assert json.load(config_file)["model"]["conv_features"] == [2, 4, 4]


def test_load_trained_reproduces_eval_accuracy(finished_run):
  trained = isjax.load_trained(finished_run)
  images, labels = data.load_split_arrays(tiny_config().dataset, "test")
  logits = trained.predict(images)
  assert logits.shape == (1000, 10)

  with open(os.path.join(finished_run, "results.json")) as results_file:
    results = json.load(results_file)
  accuracy = np.mean(np.argmax(logits, axis=-1) == labels)
  assert abs(accuracy - results["eval_accuracy"]) < 1e-6

  # uint8 input is scaled to [0, 1] like the pipeline's float images.
  uint8_logits = trained.predict(np.round(images[:5] * 255).astype(np.uint8))
  np.testing.assert_allclose(uint8_logits, logits[:5], rtol=1e-4, atol=1e-5)
  assert trained.embed(images[:3]).shape == (3, 8)
  assert trained.embed(images[:3], features="inward_scaled").shape == (3, 4 * 9)


def test_load_trained_errors(finished_run, tmp_path):
  with pytest.raises(ValueError, match=r"No checkpoint for step 5 .* saved steps are \[8\]"):
    isjax.load_trained(finished_run, step=5)
  with pytest.raises(FileNotFoundError, match="not a training workdir"):
    isjax.load_trained(str(tmp_path))
  trained = isjax.load_trained(finished_run)
  with pytest.raises(ValueError, match=r"Unknown features 'pool3'.*'embedding'"):
    trained.embed(np.zeros((1, 28, 28, 1), np.float32), features="pool3")
  with pytest.raises(ValueError, match=r"Expected images of shape \(N, 28, 28, 1\)"):
    trained.predict(np.zeros((2, 32, 32, 3), np.float32))
  with pytest.raises(ValueError, match="Float images must be in \\[0, 1\\].*up to 255"):
    trained.predict(np.full((1, 28, 28, 1), 255.0, np.float32))


def test_resume_matches_uninterrupted_run(tmp_path):
  straight = str(tmp_path / "straight")
  train_and_evaluate(tiny_config(max_steps=6), straight)

  interrupted = str(tmp_path / "interrupted")
  train_and_evaluate(tiny_config(max_steps=3), interrupted)
  assert checkpoint_steps(interrupted) == [3]
  train_and_evaluate(tiny_config(max_steps=6), interrupted)
  assert checkpoint_steps(interrupted) == [3, 6]

  straight_params = isjax.load_trained(straight).params
  resumed_params = isjax.load_trained(interrupted).params
  for leaf_straight, leaf_resumed in zip(jax.tree.leaves(straight_params),
                                         jax.tree.leaves(resumed_params)):
    np.testing.assert_allclose(leaf_resumed, leaf_straight, rtol=1e-6, atol=1e-7)

  # A non-finite loss stops the run and keeps the last good checkpoint.
  with pytest.raises(NonFiniteLossError, match=r"non-finite at step \d+.*step 6"):
    train_and_evaluate(
        tiny_config(max_steps=8, **{"optimizer.learning_rate": 1e30}),
        interrupted)
  assert checkpoint_steps(interrupted) == [3, 6]

  # A different model on the same workdir is named, not a shape traceback.
  with pytest.raises(CheckpointMismatchError,
                     match=r"different model: model.conv_features"):
    train_and_evaluate(
        tiny_config(max_steps=8, **{"model.conv_features": (2, 4, 8)}),
        interrupted)
  assert checkpoint_steps(interrupted) == [3, 6]


def test_unknown_config_field_is_rejected(tmp_path):
  completed = subprocess.run(
      [sys.executable, os.path.join(REPOSITORY, "train.py"),
       "--config", os.path.join(REPOSITORY, "configs", "default.py"),
       "--workdir", str(tmp_path), "--config.model.widths=3"],
      capture_output=True, text=True, timeout=300, check=False, cwd=REPOSITORY)
  assert completed.returncode != 0
  assert "Unknown config field config.model.widths" in completed.stderr
  assert "'conv_features'" in completed.stderr  # The valid fields are listed.
  assert not os.listdir(tmp_path)


def test_invalid_xi_is_rejected_before_training(tmp_path):
  with pytest.raises(ValueError, match=r"model.xi must be a finite number > 0, got -1.0"):
    train_and_evaluate(tiny_config(**{"model.xi": -1.0}), str(tmp_path))
  assert not os.path.exists(os.path.join(tmp_path, "checkpoints"))


def test_load_trained_without_tensorflow(finished_run):
  from test_light_imports import run_without_tensorflow  # pylint: disable=g-import-not-at-top
  completed = run_without_tensorflow(finished_run)
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert completed.stdout.strip().endswith("ok")
