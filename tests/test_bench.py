"""Tests of the benchmark code: its references compute what they claim, and
`python -m bench --tiny` writes every figure. No timing is asserted."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import op_speed
from bench import report
from bench import retrieval_speed
from bench import timing
from isjax import inward_scale

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_measurement_ratio_and_targets():
  slow = report.measurement("op", "case", 3.0, "ms", reference="ref",
                            reference_value=2.0, at_most=1.5)
  assert slow["ratio"] == 1.5
  assert slow["target_met"] is True
  slower = report.measurement("op", "case", 3.1, "ms", reference="ref",
                              reference_value=2.0, at_most=1.5)
  assert slower["target_met"] is False
  fast_enough = report.measurement("pipeline", "case", 400.0, "images/s",
                                   reference="step", reference_value=100.0,
                                   at_least=5)
  assert fast_enough["ratio"] == 4.0
  assert fast_enough["target_met"] is False
  untargeted = report.measurement("op", "case", 1.0, "s")
  assert untargeted["ratio"] is None
  assert untargeted["target_met"] is None


def test_markdown_has_one_row_per_measurement():
  results = {
      "environment": report.environment(),
      "measurements": [
          report.measurement("op", "a", 3.0, "ms", reference="r",
                             reference_value=2.0, at_most=1.0),
          report.measurement("op", "b", 1.0, "s"),
      ],
  }
  rows = [line for line in report.to_markdown(results).splitlines()
          if line.startswith("| op |")]
  assert len(rows) == 2
  assert "| 1.5 | ≤ 1 MISSED |" in rows[0]
  assert "| – | – |" in rows[1]


def test_best_seconds_rejects_zero_repeats():
  with pytest.raises(ValueError, match="repeats must be at least 1, got 0"):
    timing.best_seconds(lambda: None, repeats=0)


def test_interleaved_times_every_function():
  calls = []
  seconds = timing.interleaved_best_seconds(
      {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
      repeats=3, warmup=1)
  assert set(seconds) == {"a", "b"}
  assert calls == ["a", "b"] * 4
  assert all(value >= 0 for value in seconds.values())


def test_autodiff_reference_is_the_same_function():
  x = jax.random.normal(jax.random.PRNGKey(0), (5, 7), jnp.float32)
  cotangent = jax.random.normal(jax.random.PRNGKey(1), (5, 7), jnp.float32)
  np.testing.assert_allclose(op_speed.autodiff_inward_scale(x),
                             inward_scale(x, op_speed.XI), rtol=1e-6)
  _, reference_vjp = jax.vjp(op_speed.autodiff_inward_scale, x)
  _, exact_vjp = jax.vjp(
      lambda v: inward_scale(v, op_speed.XI, gradient="exact"), x)
  np.testing.assert_allclose(exact_vjp(cotangent)[0],
                             reference_vjp(cotangent)[0], rtol=1e-5,
                             atol=1e-8)


@pytest.mark.parametrize("num_queries, num_gallery", [(5, 7), (1030, 9000)])
def test_blockwise_products_match_brute_force(num_queries, num_gallery):
  rng = np.random.default_rng(0)
  queries = rng.normal(size=(num_queries, 16)).astype(np.float32)
  gallery = rng.normal(size=(num_gallery, 16)).astype(np.float32)
  # Padding rows are zeros, whose products (0) must not beat real negatives.
  gallery[:, 0] = -100.0
  queries[:, 0] = 1.0
  expected = (queries.astype(np.float64) @ gallery.T.astype(np.float64)).max(1)

  query_block_size, gallery_block_size = retrieval_speed.search_block_sizes(
      num_queries, num_gallery, 10)
  best = retrieval_speed.blockwise_products(
      queries, gallery, query_block_size=query_block_size,
      gallery_block_size=gallery_block_size)

  assert best.size >= num_queries
  np.testing.assert_allclose(np.asarray(best).ravel()[:num_queries], expected,
                             rtol=1e-5)


def test_search_memory_estimate_counts_the_gallery():
  queries = jnp.ones((8, 4), jnp.float32)
  gallery = jnp.ones((50, 4), jnp.float32)
  arguments, temporaries, outputs = retrieval_speed.search_memory_bytes(
      queries, gallery, 3)
  assert arguments == (8 + 50) * 4 * 4
  # float32 distances and int32 indices, plus XLA's table of the two output
  # buffers (two 8-byte pointers on this 64-bit CPU).
  assert outputs == 8 * 3 * 4 * 2 + 16
  assert temporaries > 0


def test_tiny_run_writes_every_figure(tmp_path):
  output_dir = tmp_path / "bench"
  subprocess.run(
      [sys.executable, "-m", "bench", "--tiny", f"--output_dir={output_dir}"],
      cwd=REPOSITORY, check=True, stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)

  with open(output_dir / "results.json") as results_file:
    results = json.load(results_file)
  rows = results["measurements"]
  counts = {}
  for row in rows:
    counts[row["benchmark"]] = counts.get(row["benchmark"], 0) + 1
    assert row["value"] > 0, row
    if row["reference"] is not None:
      assert row["ratio"] == pytest.approx(
          row["value"] / row["reference_value"]), row
  # 2 models x (images/s, FLOP rate, compile); 2 pipelines; 2 modes x 2
  # references; 2 galleries + 1 per-item + memory; 2 device counts.
  assert counts == {"training step": 6, "input pipeline": 2, "op": 4,
                    "retrieval": 4, "device scaling": 2}
  assert [row["target_met"] is not None for row in rows].count(True) == 8
  assert results["tiny"] is True
  assert results["environment"]["jax"] == jax.__version__

  markdown = (output_dir / "results.md").read_text()
  table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
  assert len(table_rows) == len(rows) + 1  # The header row, then one per row.
