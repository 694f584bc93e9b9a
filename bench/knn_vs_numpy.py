r"""Time the blockwise kNN against a dense NumPy search in the same run.

Euclidean top-k of Q random queries in a gallery of G random vectors (D
dimensions, float32). The reference computes the full Q x G distance matrix
and sorts each row (`np.argsort`, stable); `argpartition` is timed too.
Prints one JSON line.

  python -m bench.knn_vs_numpy --queries=10000 --gallery=10000 --k=10
"""

import json
import time

from absl import app
from absl import flags
import jax
import numpy as np

from isjax.retrieval import nearest_neighbors

_QUERIES = flags.DEFINE_integer("queries", 10_000, "Number of queries.")
_GALLERY = flags.DEFINE_integer("gallery", 10_000, "Gallery size.")
_DIMENSION = flags.DEFINE_integer("dimension", 128, "Embedding size.")
_K = flags.DEFINE_integer("k", 10, "Neighbours per query.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions (best kept).")


def best_time(function, repeats):
  """Return (best wall time over `repeats` calls, last result)."""
  times = []
  result = None
  for _ in range(repeats):
    start = time.perf_counter()
    result = function()
    times.append(time.perf_counter() - start)
  return min(times), result


def dense_numpy_search(queries, gallery, k, use_argpartition):
  squared = (np.sum(queries**2, axis=1, keepdims=True) - 2 * queries @ gallery.T
             + np.sum(gallery**2, axis=1))
  if use_argpartition:
    candidates = np.argpartition(squared, k, axis=1)[:, :k]
    order = np.take_along_axis(squared, candidates, axis=1).argsort(axis=1)
    return np.take_along_axis(candidates, order, axis=1)
  return np.argsort(squared, axis=1, kind="stable")[:, :k]


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  queries = rng.normal(size=(_QUERIES.value, _DIMENSION.value)).astype(np.float32)
  gallery = rng.normal(size=(_GALLERY.value, _DIMENSION.value)).astype(np.float32)
  k = _K.value

  def isjax_search():
    return np.asarray(jax.block_until_ready(
        nearest_neighbors(queries, gallery, k)[1]))

  start = time.perf_counter()
  isjax_search()
  first_call = time.perf_counter() - start
  isjax_seconds, isjax_indices = best_time(isjax_search, _REPEATS.value)
  argsort_seconds, argsort_indices = best_time(
      lambda: dense_numpy_search(queries, gallery, k, False), _REPEATS.value)
  argpartition_seconds, _ = best_time(
      lambda: dense_numpy_search(queries, gallery, k, True), _REPEATS.value)

  print(json.dumps({
      "queries": _QUERIES.value, "gallery": _GALLERY.value,
      "dimension": _DIMENSION.value, "k": k,
      "isjax_seconds": isjax_seconds,
      "isjax_first_call_seconds": first_call,
      "numpy_argsort_seconds": argsort_seconds,
      "numpy_argpartition_seconds": argpartition_seconds,
      "speedup_over_argsort": argsort_seconds / isjax_seconds,
      "index_agreement": float(np.mean(isjax_indices == argsort_indices)),
      "device": jax.devices()[0].device_kind,
  }))


if __name__ == "__main__":
  app.run(main)
