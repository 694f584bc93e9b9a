"""Tests of isjax.retrieval.knn: exact blockwise k-nearest-neighbour search."""

import logging
import re
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fake_devices import run_on_eight_devices
from isjax.retrieval import knn
from isjax.retrieval import nearest_neighbors


# Most tests search 48 queries in 101 gallery items for k = 12, so that they
# share compiled programs: compilation dominates the run time of this module.
NUM_QUERIES, NUM_GALLERY, K = 48, 101, 12

# (query_block_size, gallery_block_size): the defaults (one block each), sizes
# that divide neither Q nor G, and gallery blocks smaller than k.
BLOCK_SIZES = [(1024, 8192), (7, 13), (32, 5)]


def distance_matrix(queries, gallery, distance):
  """Float64 distances between every query and every gallery item."""
  queries = np.asarray(queries, np.float64)
  gallery = np.asarray(gallery, np.float64)
  if distance == "cosine":
    queries = queries / np.maximum(
        np.linalg.norm(queries, axis=1, keepdims=True), 1e-300)
    gallery = gallery / np.maximum(
        np.linalg.norm(gallery, axis=1, keepdims=True), 1e-300)
    return 1 - queries @ gallery.T
  differences = queries[:, None, :] - gallery[None, :, :]
  return np.sqrt(np.sum(differences**2, axis=-1))


def reference_neighbors(queries, gallery, k, distance, exclude_self=False,
                        query_indices=None):
  """Brute force: full distance matrix, stable argsort by gallery index."""
  distances = distance_matrix(queries, gallery, distance)
  if exclude_self:
    if query_indices is None:
      query_indices = np.arange(len(queries))
    distances[np.arange(len(queries)), query_indices] = np.inf
  # A stable sort keeps equal distances in gallery index order.
  indices = np.argsort(distances, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(distances, indices, axis=1), indices


def exact_embeddings(rng, num_items, distance):
  """Embeddings whose distances float32 computes exactly, with many ties.

  Euclidean: small integer coordinates, so every product and sum is an exact
  integer. Cosine: ±1 entries in 16 dimensions (norm 4) scaled by powers of 2,
  so the unit vectors have entries ±0.25 and all dot products are exact.
  """
  if distance == "euclidean":
    return rng.integers(-2, 3, size=(num_items, 6)).astype(np.float32)
  signs = rng.choice([-1.0, 1.0], size=(num_items, 16))
  scales = 2.0 ** rng.integers(-3, 4, size=(num_items, 1))
  return (signs * scales).astype(np.float32)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("block_sizes", BLOCK_SIZES)
def test_matches_brute_force(distance, block_sizes):
  rng = np.random.default_rng(0)
  queries = exact_embeddings(rng, NUM_QUERIES, distance)
  gallery = exact_embeddings(rng, NUM_GALLERY, distance)
  query_block_size, gallery_block_size = block_sizes

  distances, indices = nearest_neighbors(
      queries, gallery, K, distance=distance,
      query_block_size=query_block_size, gallery_block_size=gallery_block_size)
  expected_distances, expected_indices = reference_neighbors(
      queries, gallery, K, distance)

  np.testing.assert_array_equal(indices, expected_indices)
  np.testing.assert_allclose(distances, expected_distances, rtol=1e-6,
                             atol=1e-6)
  assert indices.dtype == jnp.int32
  assert distances.shape == (NUM_QUERIES, K)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("block_sizes", BLOCK_SIZES)
def test_exclude_self_matches_brute_force(distance, block_sizes):
  # The queries are 48 gallery items in shuffled order, one of them with a
  # duplicate in the gallery that it must still retrieve.
  rng = np.random.default_rng(1)
  gallery = exact_embeddings(rng, NUM_GALLERY, distance)
  gallery[7] = gallery[3]
  query_indices = rng.permutation(NUM_GALLERY)[:NUM_QUERIES]
  query_indices[0] = 3
  queries = gallery[query_indices]
  query_block_size, gallery_block_size = block_sizes

  distances, indices = nearest_neighbors(
      queries, gallery, K, distance=distance, exclude_self=True,
      query_indices=query_indices, query_block_size=query_block_size,
      gallery_block_size=gallery_block_size)
  expected_distances, expected_indices = reference_neighbors(
      queries, gallery, K, distance, exclude_self=True,
      query_indices=query_indices)

  np.testing.assert_array_equal(indices, expected_indices)
  np.testing.assert_allclose(distances, expected_distances, rtol=1e-6,
                             atol=1e-6)
  assert not np.any(indices == query_indices[:, None])
  assert indices[0, 0] == 7


def test_exclude_self_defaults_to_own_position():
  rng = np.random.default_rng(2)
  embeddings = exact_embeddings(rng, NUM_GALLERY, "euclidean")

  _, indices = nearest_neighbors(embeddings, embeddings, K, exclude_self=True,
                                 query_block_size=7, gallery_block_size=13)
  _, expected = reference_neighbors(embeddings, embeddings, K, "euclidean",
                                    exclude_self=True)

  np.testing.assert_array_equal(indices, expected)
  assert not np.any(indices == np.arange(NUM_GALLERY)[:, None])


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_random_floats_distances_match(distance):
  # Gaussian data has near-ties that float32 and float64 may order
  # differently, so compare the distances, not the index order.
  rng = np.random.default_rng(3)
  dim = exact_embeddings(rng, 1, distance).shape[1]
  queries = rng.normal(size=(NUM_QUERIES, dim)).astype(np.float32)
  gallery = rng.normal(size=(NUM_GALLERY, dim)).astype(np.float32)

  distances, indices = nearest_neighbors(
      queries, gallery, K, distance=distance, query_block_size=7,
      gallery_block_size=13)
  all_distances = distance_matrix(queries, gallery, distance)
  expected_distances = np.sort(all_distances, axis=1)[:, :K]
  distances_of_returned = np.take_along_axis(
      all_distances, np.asarray(indices), axis=1)

  np.testing.assert_allclose(distances, expected_distances, rtol=1e-4,
                             atol=1e-5)
  np.testing.assert_allclose(distances_of_returned, distances, rtol=1e-4,
                             atol=1e-5)
  assert all(len(set(row)) == K for row in np.asarray(indices).tolist())


def test_ties_lower_index_first_across_blocks():
  # Euclidean distances from the origin: items 1 and 2 at 0, items 0, 3 and 5
  # at 1, item 4 at 2 (not 4: the distance, not its square, is returned). Ties
  # must come out in index order, also when the tied items sit in different
  # gallery blocks.
  gallery = np.array([[1, 0], [0, 0], [0, 0], [0, 1], [2, 0], [-1, 0]],
                     np.float32)
  query = np.zeros((1, 2), np.float32)

  for gallery_block_size in (1, 4):
    distances, indices = nearest_neighbors(
        query, gallery, 6, gallery_block_size=gallery_block_size)
    np.testing.assert_array_equal(indices, [[1, 2, 0, 3, 5, 4]])
    np.testing.assert_array_equal(distances, [[0, 0, 1, 1, 1, 2]])


# (num_gallery, gallery_block_size, k) that split gallery blocks into chunks:
# one block, several blocks, and a maximum block size that is not a multiple
# of the chunk size. No gallery size is a multiple of the chunk size.
CHUNKED_CASES = [(2500, 8192, 7), (2500, 1000, 3), (1001, 1000, 1)]


@pytest.mark.parametrize("num_gallery, gallery_block_size, k", CHUNKED_CASES)
@pytest.mark.parametrize("exclude_self", [False, True])
def test_chunks_match_brute_force(num_gallery, gallery_block_size, k,
                                  exclude_self):
  # Integer coordinates in [-2, 2] give exact distances with many ties, which
  # spread over chunks and blocks, and duplicates at distance 0.
  chunk_size, _ = knn._gallery_blocking(num_gallery, gallery_block_size, k)
  assert chunk_size is not None
  rng = np.random.default_rng(6)
  gallery = exact_embeddings(rng, num_gallery, "euclidean")
  query_indices = rng.permutation(num_gallery)[:NUM_QUERIES]
  queries = gallery[query_indices]
  options = (dict(exclude_self=True, query_indices=query_indices)
             if exclude_self else {})

  distances, indices = nearest_neighbors(
      queries, gallery, k, query_block_size=7,
      gallery_block_size=gallery_block_size, **options)
  expected_distances, expected_indices = reference_neighbors(
      queries, gallery, k, "euclidean", **options)

  np.testing.assert_array_equal(indices, expected_indices)
  np.testing.assert_allclose(distances, expected_distances, rtol=1e-6)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_chunks_match_whole_blocks_bitwise(distance):
  # Gaussian data has near-ties. At equal block sizes, merging chunks must
  # give the same bits and order as merging whole blocks, because both rank
  # the same computed distances.
  rng = np.random.default_rng(7)
  gallery = jnp.asarray(rng.normal(size=(2500, 16)), jnp.float32)
  query_indices = jnp.asarray(rng.permutation(2500)[:NUM_QUERIES], jnp.int32)
  chunk_size, gallery_block_size = knn._gallery_blocking(2500, 1000, 3)
  assert chunk_size is not None
  options = dict(k=3, distance=distance, num_query_blocks=2,
                 query_block_size=NUM_QUERIES // 2,
                 gallery_block_size=gallery_block_size, mesh=None)

  chunked = knn._search(gallery[query_indices], gallery, query_indices,
                        chunk_size=chunk_size, **options)
  whole = knn._search(gallery[query_indices], gallery, query_indices,
                      chunk_size=None, **options)

  np.testing.assert_array_equal(chunked[1], whole[1])
  np.testing.assert_array_equal(chunked[0], whole[0])


def test_chunks_top_k_in_one_chunk():
  # Six items at distance 0 sit in the third chunk and a seventh in the
  # sixth chunk, which ties with the third on its minimum. Every other chunk
  # contains an item at distance 1, so all chunks compete for the k picks.
  # The 5 nearest are the first five zeros of the third chunk.
  num_gallery, k = 2048, 5
  chunk_size, _ = knn._gallery_blocking(num_gallery, 8192, k)
  assert chunk_size is not None
  assert chunk_size > k + 1
  gallery = np.full((num_gallery, 2), 2, np.float32)
  gallery[::chunk_size] = [1, 0]
  third_chunk = 2 * chunk_size + np.arange(1, k + 2)
  gallery[third_chunk] = 0
  gallery[5 * chunk_size + 3] = 0
  query = np.zeros((1, 2), np.float32)

  distances, indices = nearest_neighbors(query, gallery, k)

  np.testing.assert_array_equal(indices, [third_chunk[:k]])
  np.testing.assert_array_equal(distances, np.zeros((1, k)))


def test_chunks_ties_keep_index_order():
  # Every item is at distance 1 except one at distance 0 in the last chunk,
  # whose chunk lax.top_k picks first. The ties after it must come from the
  # first chunk, in index order.
  num_gallery, k = 2048, 4
  chunk_size, _ = knn._gallery_blocking(num_gallery, 8192, k)
  assert chunk_size is not None
  gallery = np.ones((num_gallery, 1), np.float32)
  gallery[num_gallery - 2] = 0
  query = np.zeros((1, 1), np.float32)

  distances, indices = nearest_neighbors(query, gallery, k)

  np.testing.assert_array_equal(indices, [[num_gallery - 2, 0, 1, 2]])
  np.testing.assert_array_equal(distances, [[0, 1, 1, 1]])


@pytest.mark.parametrize("num_gallery, max_block_size, k",
                         CHUNKED_CASES + [(100_000, 8192, 10), (500, 500, 3)])
def test_gallery_blocking_whole_chunks(num_gallery, max_block_size, k):
  chunk_size, block_size = knn._gallery_blocking(
      num_gallery, max_block_size, k)
  assert chunk_size >= knn.MIN_CHUNK_SIZE
  assert block_size % chunk_size == 0
  assert block_size <= max_block_size
  assert block_size // chunk_size > k


def test_gallery_blocking_small_blocks_unchunked():
  # Fewer than MIN_BLOCK_SIZE_PER_K_FOR_CHUNKS items per neighbour: whole
  # blocks, evened out by _even_blocks alone.
  assert knn._gallery_blocking(NUM_GALLERY, 8192, K) == (None, NUM_GALLERY)
  assert knn._gallery_blocking(100_000, 8192, 100) == (None, 7693)


def test_cosine_hand_computed():
  # Query (1, 0). Gallery (2, 0): cos 1, distance 0. (0, 3): cos 0,
  # distance 1. (-1, 0): distance 2. (1, 1): cos 1/sqrt(2), distance
  # 1 - 0.70710678 = 0.29289322. The zero vector has distance 1 and ties with
  # (0, 3), which has the lower index.
  gallery = np.array([[2, 0], [0, 3], [-1, 0], [1, 1], [0, 0]], np.float32)
  query = np.array([[1, 0]], np.float32)

  distances, indices = nearest_neighbors(query, gallery, 5, distance="cosine")

  np.testing.assert_array_equal(indices, [[0, 3, 1, 4, 2]])
  np.testing.assert_allclose(distances, [[0, 1 - 2**-0.5, 1, 1, 2]],
                             rtol=1e-6, atol=1e-7)


def test_empty_queries():
  distances, indices = nearest_neighbors(
      np.zeros((0, 3), np.float32), np.ones((4, 3), np.float32), 2)
  assert distances.shape == (0, 2)
  assert indices.shape == (0, 2)


def test_integer_and_bfloat16_inputs():
  gallery = np.array([[0, 0], [5, 5], [1, 1]])
  _, indices = nearest_neighbors(gallery[:1], gallery, 3)
  np.testing.assert_array_equal(indices, [[0, 2, 1]])

  distances, indices = nearest_neighbors(
      jnp.asarray(gallery[:1], jnp.bfloat16), jnp.asarray(gallery, jnp.bfloat16),
      3)
  np.testing.assert_array_equal(indices, [[0, 2, 1]])
  assert distances.dtype == jnp.float32


def test_no_recompilation_for_new_values(caplog):
  rng = np.random.default_rng(4)
  queries = rng.normal(size=(NUM_QUERIES, 6)).astype(np.float32)
  gallery = rng.normal(size=(NUM_GALLERY, 6)).astype(np.float32)
  options = dict(query_block_size=7, gallery_block_size=13)
  nearest_neighbors(queries, gallery, K, **options)
  # Converting query_indices compiles a small staging program of its own the
  # first time in a process, so the warm-up runs that path too.
  nearest_neighbors(gallery[1:NUM_QUERIES + 1], gallery, K, exclude_self=True,
                    query_indices=np.arange(NUM_QUERIES), **options)

  # New values, with and without self-exclusion: the same programs run.
  with jax.log_compiles(), caplog.at_level(logging.WARNING):
    nearest_neighbors(queries + 1, gallery * 2, K, **options)
    nearest_neighbors(gallery[:NUM_QUERIES], gallery, K, exclude_self=True,
                      query_indices=np.arange(NUM_QUERIES), **options)

  compile_messages = [record.getMessage() for record in caplog.records
                      if "Compiling" in record.getMessage()]
  assert compile_messages == []


def test_memory_stays_below_full_distance_matrix():
  num_queries, num_gallery, dim = 256, 50_000, 16
  full_matrix_bytes = num_queries * num_gallery * 4
  search = jax.jit(lambda queries, gallery: nearest_neighbors(
      queries, gallery, 10, query_block_size=256, gallery_block_size=1024))

  compiled = search.lower(
      jax.ShapeDtypeStruct((num_queries, dim), jnp.float32),
      jax.ShapeDtypeStruct((num_gallery, dim), jnp.float32)).compile()

  # The temporaries are the padded gallery copy (about 3.2 MB) and a few
  # 256 × 1,031 tiles (k + the evened-out gallery block of 1,021), against
  # 51.2 MB for the full matrix.
  memory = compiled.memory_analysis()
  assert memory.temp_size_in_bytes < full_matrix_bytes / 5
  # No buffer in the optimised program has Q × G elements or more.
  shapes = re.findall(r"\b(?:f32|s32|pred)\[([0-9,]+)\]", compiled.as_text())
  largest = max(int(np.prod([int(n) for n in shape.split(",")]))
                for shape in shapes)
  assert largest < num_queries * num_gallery / 10


def test_k_out_of_range_raises():
  gallery = np.zeros((5, 3), np.float32)
  with pytest.raises(ValueError, match=r"got k=6. Here the gallery has 5 items"):
    nearest_neighbors(gallery, gallery, 6)
  with pytest.raises(ValueError, match=r"got k=0"):
    nearest_neighbors(gallery, gallery, 0)
  with pytest.raises(ValueError, match=r"\(4\), got k=5.*excluding the query"):
    nearest_neighbors(gallery, gallery, 5, exclude_self=True)
  with pytest.raises(TypeError, match=r"k must be an integer, got 2.0"):
    nearest_neighbors(gallery, gallery, 2.0)


def test_invalid_arguments_raise():
  gallery = np.zeros((5, 3), np.float32)
  with pytest.raises(ValueError, match=r"Unknown distance 'manhattan'.*"
                     r"'euclidean', 'cosine'"):
    nearest_neighbors(gallery, gallery, 1, distance="manhattan")
  with pytest.raises(ValueError, match=r"same feature dimension.*\(2, 4\)"):
    nearest_neighbors(np.zeros((2, 4)), gallery, 1)
  with pytest.raises(ValueError, match=r"queries must be a 2-D array"):
    nearest_neighbors(np.zeros(3), gallery, 1)
  with pytest.raises(ValueError, match=r"gallery_block_size must be at least"):
    nearest_neighbors(gallery, gallery, 1, gallery_block_size=0)
  with pytest.raises(ValueError, match=r"only used with exclude_self=True"):
    nearest_neighbors(gallery, gallery, 1, query_indices=np.arange(5))
  with pytest.raises(ValueError, match=r"2 queries and 5 gallery items"):
    nearest_neighbors(gallery[:2], gallery, 1, exclude_self=True)
  with pytest.raises(ValueError, match=r"query_indices must have shape \(2,\)"):
    nearest_neighbors(gallery[:2], gallery, 1, exclude_self=True,
                      query_indices=np.arange(3))
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
  with pytest.raises(ValueError, match=r"axis named 'data'"):
    nearest_neighbors(gallery, gallery, 1, mesh=mesh)


# Loads the inputs written by the test, searches them on 8 fake CPU devices
# with both kinds of mesh axis, and saves the results.
SHARDED_SEARCH_SCRIPT = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    from isjax.retrieval import nearest_neighbors

    assert jax.device_count() == 8, jax.devices()
    inputs = np.load(sys.argv[1])
    # jax.make_mesh gives an explicit "data" axis, Mesh(...) an automatic one.
    explicit_mesh = jax.make_mesh((8,), ("data",))
    automatic_mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))

    # Embeddings from a sharded step arrive sharded over the batch.
    queries = jax.device_put(
        inputs["queries"],
        jax.sharding.NamedSharding(explicit_mesh,
                                   jax.sharding.PartitionSpec("data")))
    euclidean = nearest_neighbors(
        queries, inputs["gallery"], 12, query_block_size=7,
        gallery_block_size=13, mesh=explicit_mesh)
    cosine = nearest_neighbors(
        inputs["cosine_gallery"][inputs["query_indices"]],
        inputs["cosine_gallery"], 12, distance="cosine", exclude_self=True,
        query_indices=inputs["query_indices"], query_block_size=7,
        gallery_block_size=13, mesh=automatic_mesh)
    # Gallery blocks that are split into chunks.
    chunked = nearest_neighbors(
        queries, inputs["chunked_gallery"], 3, query_block_size=7,
        gallery_block_size=1000, mesh=explicit_mesh)
    for result in (*euclidean, *cosine, *chunked):
      assert result.sharding.is_fully_replicated, result.sharding
    np.savez(sys.argv[2], euclidean_distances=euclidean[0],
             euclidean_indices=euclidean[1], cosine_distances=cosine[0],
             cosine_indices=cosine[1], chunked_distances=chunked[0],
             chunked_indices=chunked[1])
""")


def test_sharded_search_matches_single_device(tmp_path):
  # 48 queries in blocks of at most 7 make 7 blocks of 7 (one padded row)
  # on one device, and 8 blocks of 6 on 8 devices.
  rng = np.random.default_rng(5)
  queries = exact_embeddings(rng, NUM_QUERIES, "euclidean")
  gallery = exact_embeddings(rng, NUM_GALLERY, "euclidean")
  cosine_gallery = exact_embeddings(rng, NUM_GALLERY, "cosine")
  query_indices = rng.permutation(NUM_GALLERY)[:NUM_QUERIES]
  chunked_gallery = exact_embeddings(rng, 2500, "euclidean")
  assert knn._gallery_blocking(2500, 1000, 3)[0] is not None
  np.savez(tmp_path / "inputs.npz", queries=queries, gallery=gallery,
           cosine_gallery=cosine_gallery, query_indices=query_indices,
           chunked_gallery=chunked_gallery)

  result = run_on_eight_devices(
      ["-c", SHARDED_SEARCH_SCRIPT, str(tmp_path / "inputs.npz"),
       str(tmp_path / "outputs.npz")])
  assert result.returncode == 0, result.stderr[-3000:]
  sharded = np.load(tmp_path / "outputs.npz")

  euclidean = nearest_neighbors(queries, gallery, K, query_block_size=7,
                                gallery_block_size=13)
  cosine = nearest_neighbors(
      cosine_gallery[query_indices], cosine_gallery, K, distance="cosine",
      exclude_self=True, query_indices=query_indices, query_block_size=7,
      gallery_block_size=13)
  chunked = nearest_neighbors(queries, chunked_gallery, 3, query_block_size=7,
                              gallery_block_size=1000)
  np.testing.assert_array_equal(sharded["euclidean_indices"], euclidean[1])
  np.testing.assert_array_equal(sharded["euclidean_distances"], euclidean[0])
  np.testing.assert_array_equal(sharded["cosine_indices"], cosine[1])
  np.testing.assert_array_equal(sharded["cosine_distances"], cosine[0])
  np.testing.assert_array_equal(sharded["chunked_indices"], chunked[1])
  np.testing.assert_array_equal(sharded["chunked_distances"], chunked[0])
