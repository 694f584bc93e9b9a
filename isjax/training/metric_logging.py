"""Metrics of a run: `metrics.jsonl`, TensorBoard events and the console."""

import json
import logging as python_logging
import os

from absl import logging
import jax
import numpy as np

METRICS_FILE = "metrics.jsonl"


def _to_python(value):
  if isinstance(value, (np.generic, np.ndarray)) or hasattr(value, "dtype"):
    return np.asarray(value).item()
  return value


class MetricLogger:
  """Write each logging event to `<workdir>/metrics.jsonl` and TensorBoard.

  Only process 0 writes: every process computes the same global metrics.
  Each JSON line is one event and always has ``step``.
  """

  def __init__(self, workdir):
    self._is_writer = jax.process_index() == 0
    self._jsonl_path = os.path.join(workdir, METRICS_FILE)
    self._summary_writer = None
    if self._is_writer:
      # Imported here: clu's writer needs tensorflow, which the rest of the
      # training library does not.
      from clu import metric_writers  # pylint: disable=g-import-not-at-top
      self._summary_writer = metric_writers.SummaryWriter(workdir)

  def write(self, step, metrics):
    if not self._is_writer:
      return
    scalars = {name: _to_python(value) for name, value in metrics.items()}
    with open(self._jsonl_path, "a") as jsonl_file:
      jsonl_file.write(json.dumps({"step": int(step), **scalars}) + "\n")
    numeric = {name: value for name, value in scalars.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    self._summary_writer.write_scalars(int(step), numeric)

  def flush(self):
    if self._summary_writer is not None:
      self._summary_writer.flush()

  def close(self):
    if self._summary_writer is not None:
      self._summary_writer.close()


def format_duration(seconds):
  """Format seconds as e.g. '1h02m', '3m05s' or '42s'."""
  seconds = int(round(max(seconds, 0)))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m"
  if minutes:
    return f"{minutes}m{seconds:02d}s"
  return f"{seconds}s"


def log_progress(step, total_steps, epoch, num_epochs, metrics,
                 images_per_second, eta_seconds):
  logging.info(
      "step %d/%d (epoch %d/%d)  loss %.4f  accuracy %.2f%%  %.0f images/s  "
      "ETA %s", step, total_steps, epoch, num_epochs, metrics["train_loss"],
      100 * metrics["train_accuracy"], images_per_second,
      format_duration(eta_seconds))


class _HideCheckpointerInfo(python_logging.Filter):
  """Drop Orbax's INFO lines (about 40 per checkpoint); keep its warnings."""

  def filter(self, record):
    return record.levelno > python_logging.INFO or "orbax" not in record.pathname


def hide_checkpointer_info_logs():
  """Keep Orbax's per-checkpoint INFO lines off the console (entry points only)."""
  logging.get_absl_handler().addFilter(_HideCheckpointerInfo())
