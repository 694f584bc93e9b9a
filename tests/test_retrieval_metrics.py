"""Tests of isjax.retrieval.metrics: Recall@K, TP@K, MAP@R and R-precision."""

import numpy as np
import pytest

from isjax.retrieval import compute_retrieval_metrics
from isjax.retrieval import count_relevant
from isjax.retrieval import retrieval_metrics_from_neighbors


def brute_force_metrics(queries, gallery, query_labels, gallery_labels, ks,
                        distance, exclude_self):
  """Per-query loops over a full float64 distance matrix."""
  queries = np.asarray(queries, np.float64)
  gallery = np.asarray(gallery, np.float64)
  if distance == "cosine":
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    distances = 1 - queries @ gallery.T
  else:
    distances = np.sqrt(
        np.sum((queries[:, None, :] - gallery[None, :, :])**2, axis=-1))

  recalls = {k: [] for k in ks}
  precisions = {k: [] for k in ks}
  average_precisions, r_precisions = [], []
  num_without_positives = 0
  for q, label in enumerate(query_labels):
    candidates = [g for g in range(len(gallery))
                  if not (exclude_self and g == q)]
    # Sort by (distance, gallery index): ties go to the lower index.
    ranking = sorted(candidates, key=lambda g, q=q: (distances[q, g], g))
    relevant = [gallery_labels[g] == label for g in ranking]
    num_relevant = sum(relevant)
    if num_relevant == 0:
      num_without_positives += 1
      continue

    for k in ks:
      recalls[k].append(float(any(relevant[:k])))
      precisions[k].append(sum(relevant[:k]) / k)
    hits, precision_sum = 0, 0.0
    for rank in range(1, num_relevant + 1):
      if relevant[rank - 1]:
        hits += 1
        precision_sum += hits / rank
    average_precisions.append(precision_sum / num_relevant)
    r_precisions.append(hits / num_relevant)

  metrics = {f"recall@{k}": np.mean(recalls[k]) for k in ks}
  metrics.update({f"tp@{k}": np.mean(precisions[k]) for k in ks})
  metrics["map@r"] = np.mean(average_precisions)
  metrics["r_precision"] = np.mean(r_precisions)
  metrics["num_queries"] = len(query_labels)
  metrics["num_queries_without_positives"] = num_without_positives
  return metrics


def exact_embeddings(rng, num_items, distance):
  """Embeddings whose distances float32 computes exactly (see test_knn.py)."""
  if distance == "euclidean":
    return rng.integers(-2, 3, size=(num_items, 6)).astype(np.float32)
  signs = rng.choice([-1.0, 1.0], size=(num_items, 16))
  return (signs * 2.0 ** rng.integers(-3, 4, size=(num_items, 1))).astype(
      np.float32)


# Each case compiles a search, so the four combinations of distance and block
# sizes (the defaults, or sizes dividing neither Q nor G) are split between
# the two tests below.
@pytest.mark.parametrize("distance, block_sizes",
                         [("euclidean", (9, 14)), ("cosine", (1024, 8192))])
def test_self_retrieval_matches_brute_force(distance, block_sizes):
  # 80 items in 6 classes of uneven size. Class 5 has a single item, so its
  # query has no positive once it is excluded from its own gallery.
  rng = np.random.default_rng(0)
  embeddings = exact_embeddings(rng, 80, distance)
  labels = rng.integers(0, 5, size=80)
  labels[17] = 5
  query_block_size, gallery_block_size = block_sizes

  metrics = compute_retrieval_metrics(
      embeddings, embeddings, labels, labels, ks=(1, 5, 10),
      distance=distance, exclude_self=True, query_block_size=query_block_size,
      gallery_block_size=gallery_block_size)
  expected = brute_force_metrics(embeddings, embeddings, labels, labels,
                                 (1, 5, 10), distance, exclude_self=True)

  assert metrics == pytest.approx(expected, rel=1e-12, abs=1e-12)
  assert metrics["num_queries_without_positives"] == 1


@pytest.mark.parametrize("distance, block_sizes",
                         [("euclidean", (1024, 8192)), ("cosine", (9, 14))])
def test_separate_gallery_matches_brute_force(distance, block_sizes):
  rng = np.random.default_rng(1)
  queries = exact_embeddings(rng, 50, distance)
  gallery = exact_embeddings(rng, 97, distance)
  query_labels = rng.integers(0, 6, size=50)
  gallery_labels = rng.integers(0, 5, size=97)  # Class 5 is not in it.
  query_block_size, gallery_block_size = block_sizes

  metrics = compute_retrieval_metrics(
      queries, gallery, query_labels, gallery_labels, ks=(1, 2, 7),
      distance=distance, query_block_size=query_block_size,
      gallery_block_size=gallery_block_size)
  expected = brute_force_metrics(queries, gallery, query_labels,
                                 gallery_labels, (1, 2, 7), distance,
                                 exclude_self=False)

  assert metrics == pytest.approx(expected, rel=1e-12, abs=1e-12)
  assert metrics["num_queries_without_positives"] == np.sum(query_labels == 5)


def test_hand_computed_metrics():
  # Gallery labels by position: 0:A 1:B 2:A 3:A 4:B 5:C.
  # Query 0, label A, R = 3, neighbours 0 2 1 3 ... -> relevance A A B A:
  #   recall@1 = 1, tp@1 = 1, tp@3 = 2/3,
  #   AP@R over the top 3: P(1) = 1, P(2) = 2/2, rank 3 is not relevant, so
  #   MAP@R = (1 + 1) / 3 = 2/3 and R-precision = 2/3.
  # Query 1, label B, R = 2, neighbours 0 1 4 ... -> relevance A B B:
  #   recall@1 = 0, tp@1 = 0, tp@3 = 2/3,
  #   top 2: rank 2 relevant with P(2) = 1/2, so AP@R = (1/2) / 2 = 1/4,
  #   R-precision = 1/2.
  # Query 2, label D: no gallery item of class D, so R = 0 and it is left out.
  # Means over queries 0 and 1:
  #   recall@1 = 1/2, recall@3 = 1, tp@1 = 1/2, tp@3 = 2/3,
  #   MAP@R = (2/3 + 1/4) / 2 = 11/24, R-precision = (2/3 + 1/2) / 2 = 7/12.
  gallery_labels = np.array(["A", "B", "A", "A", "B", "C"])
  query_labels = np.array(["A", "B", "D"])
  neighbor_indices = np.array([[0, 2, 1, 3],
                               [0, 1, 4, 2],
                               [5, 0, 1, 2]])
  num_relevant = count_relevant(query_labels, gallery_labels)
  np.testing.assert_array_equal(num_relevant, [3, 2, 0])

  metrics = retrieval_metrics_from_neighbors(
      neighbor_indices, query_labels, gallery_labels, num_relevant, ks=(1, 3))

  assert metrics["recall@1"] == pytest.approx(1 / 2)
  assert metrics["recall@3"] == pytest.approx(1)
  assert metrics["tp@1"] == pytest.approx(1 / 2)
  assert metrics["tp@3"] == pytest.approx(2 / 3)
  assert metrics["map@r"] == pytest.approx(11 / 24)
  assert metrics["r_precision"] == pytest.approx(7 / 12)
  assert metrics["num_queries"] == 3
  assert metrics["num_queries_without_positives"] == 1


def test_hand_computed_end_to_end_with_ties():
  # Points on a line; the gallery is the query set, each query excluded.
  #   position: 0    1    2    3    4
  #   value:    0.0  1.0  1.0  3.0  10.0
  #   label:    A    B    A    A    C
  # Query 0 (A, R = 2): items 1 (B) and 2 (A) tie at distance 1, and the
  #   lower index comes first, then item 3 at 3. Relevance 0 1 1, so
  #   recall@1 = 0, recall@2 = 1, tp@2 = 1/2; within the top R = 2 only rank 2
  #   is relevant with P(2) = 1/2, so AP@R = (1/2) / 2 = 1/4, R-precision 1/2.
  # Query 1 (B, R = 0): no other B, left out.
  # Query 2 (A, R = 2): item 1 (B) at 0, item 0 (A) at 1, item 3 (A) at 2.
  #   Relevance 0 1 1: the same values as query 0.
  # Query 3 (A, R = 2): items 1 (B) and 2 (A) tie at 2, then item 0 (A) at 3.
  #   Relevance 0 1 1: the same values again.
  # Query 4 (C, R = 0): left out.
  # Means over queries 0, 2 and 3: recall@1 = 0, recall@2 = 1, tp@2 = 1/2,
  # MAP@R = 1/4, R-precision = 1/2.
  embeddings = np.array([[0.0], [1.0], [1.0], [3.0], [10.0]], np.float32)
  labels = np.array([0, 1, 0, 0, 2])

  metrics = compute_retrieval_metrics(
      embeddings, embeddings, labels, labels, ks=(1, 2), exclude_self=True,
      gallery_block_size=2)

  assert metrics["recall@1"] == 0
  assert metrics["recall@2"] == 1
  assert metrics["tp@2"] == pytest.approx(1 / 2)
  assert metrics["map@r"] == pytest.approx(1 / 4)
  assert metrics["r_precision"] == pytest.approx(1 / 2)
  assert metrics["num_queries"] == 5
  assert metrics["num_queries_without_positives"] == 2


def test_separated_clusters_give_perfect_scores():
  # 4 classes of 12 points each, tight clusters around far-apart centres:
  # every neighbour list starts with the other 11 items of the class, and
  # R = 11 >= every K, so every metric is 1.
  rng = np.random.default_rng(3)
  centres = 100 * np.eye(4, 8)
  labels = np.repeat(np.arange(4), 12)
  embeddings = (centres[labels]
                + rng.uniform(-1, 1, size=(48, 8))).astype(np.float32)

  metrics = compute_retrieval_metrics(
      embeddings, embeddings, labels, labels, ks=(10, 1, 5),
      exclude_self=True, query_block_size=10, gallery_block_size=7)

  # Sorted cut-offs, recall before TP, then MAP@R, R-precision and counts.
  assert list(metrics) == [
      "recall@1", "recall@5", "recall@10", "tp@1", "tp@5", "tp@10", "map@r",
      "r_precision", "num_queries", "num_queries_without_positives"]
  for key in list(metrics)[:8]:
    assert type(metrics[key]) is float, key
    assert metrics[key] == 1.0, key
  assert type(metrics["num_queries"]) is int
  assert metrics["num_queries"] == 48
  assert metrics["num_queries_without_positives"] == 0


def test_count_relevant_excludes_own_item():
  # Gallery labels 0 0 1 1 1. Without exclusion a query of class 1 has R = 3.
  # Queries at gallery positions 4 and 0: R = 3 - 1 and 2 - 1.
  gallery_labels = np.array([0, 0, 1, 1, 1])

  np.testing.assert_array_equal(count_relevant([1, 0], gallery_labels), [3, 2])
  np.testing.assert_array_equal(
      count_relevant([1, 0], gallery_labels, exclude_self=True,
                     query_indices=[4, 0]), [2, 1])
  np.testing.assert_array_equal(
      count_relevant(gallery_labels, gallery_labels, exclude_self=True),
      [1, 1, 2, 2, 2])


def test_k_larger_than_gallery_raises():
  embeddings = np.zeros((4, 2), np.float32)
  labels = np.array([0, 0, 1, 1])
  with pytest.raises(ValueError, match=r"candidates per query \(3\), got "
                     r"ks=\(1, 4\)"):
    compute_retrieval_metrics(embeddings, embeddings, labels, labels,
                              ks=(1, 4), exclude_self=True)


def test_invalid_inputs_raise():
  labels = np.array([0, 0, 1])
  neighbors = np.array([[1, 2], [0, 2], [0, 1]])
  relevant = np.array([1, 1, 0])

  with pytest.raises(ValueError, match=r"R=3 relevant gallery items and only "
                     r"2 neighbours"):
    retrieval_metrics_from_neighbors(neighbors, labels, labels,
                                     np.array([3, 1, 0]), ks=(1,))
  with pytest.raises(ValueError, match=r"in \[0, 3\), got values from 1 to 3"):
    retrieval_metrics_from_neighbors(neighbors + 1, labels, labels, relevant,
                                     ks=(1,))
  with pytest.raises(ValueError, match=r"at most the number of neighbours"):
    retrieval_metrics_from_neighbors(neighbors, labels, labels, relevant,
                                     ks=(3,))
  with pytest.raises(ValueError, match=r"positive integer, got \(0, 1\)"):
    retrieval_metrics_from_neighbors(neighbors, labels, labels, relevant,
                                     ks=(0, 1))
  with pytest.raises(ValueError, match=r"None of the 3 queries"):
    retrieval_metrics_from_neighbors(neighbors, labels, labels,
                                     np.zeros(3, int), ks=(1,))
  with pytest.raises(ValueError, match=r"query_embeddings must have one row "
                     r"per label \(3\)"):
    compute_retrieval_metrics(np.zeros((2, 2)), np.zeros((3, 2)), labels,
                              labels)
  with pytest.raises(ValueError, match=r"gallery_labels must be a 1-D array"):
    count_relevant(labels, labels[:, None])
