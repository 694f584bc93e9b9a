"""Exact Euclidean top-k search against the bare matrix products it needs.

`nearest_neighbors` computes one query block × gallery block product per
step and merges its distances into the running top k. The reference does the
same products on the same blocks and keeps only a running maximum, so the
ratio is the cost of everything besides the products: distances, masking and
`lax.top_k`.
"""

import functools
import math

import jax
from jax import lax
import jax.numpy as jnp

from bench import timing
from isjax.retrieval import knn
from isjax.retrieval import nearest_neighbors

QUERY_BLOCK_SIZE = 1024
GALLERY_BLOCK_SIZE = 8192


def search_block_sizes(num_queries, num_gallery, k):
  """Return (query block size, gallery block size) that the search uses.

  Taken from `nearest_neighbors`' own blocking (private functions of
  isjax.retrieval.knn), so the reference multiplies matrices of the same shapes.
  """
  _, query_block_size = knn._even_blocks(  # pylint: disable=protected-access
      num_queries, QUERY_BLOCK_SIZE, 1)
  _, gallery_block_size = knn._gallery_blocking(  # pylint: disable=protected-access
      num_gallery, GALLERY_BLOCK_SIZE, k)
  return query_block_size, gallery_block_size


def _blocks(array, block_size):
  """Reshape rows into blocks of `block_size`, padding with copies of the last row.

  Copies of a gallery row leave every maximum as it is, which zero rows
  would not (q·0 = 0 beats negative products).
  """
  num_blocks = math.ceil(array.shape[0] / block_size)
  padding = num_blocks * block_size - array.shape[0]
  array = jnp.pad(array, ((0, padding), (0, 0)), mode="edge")
  return array.reshape(num_blocks, block_size, array.shape[1])


@functools.partial(
    jax.jit, static_argnames=("query_block_size", "gallery_block_size"))
def blockwise_products(queries, gallery, *, query_block_size,
                       gallery_block_size):
  """Return max_g q·g per query, computed from one matmul per pair of blocks."""
  query_blocks = _blocks(queries, query_block_size)
  gallery_blocks = _blocks(gallery, gallery_block_size)

  def one_query_block(query_block):
    def one_gallery_block(best, gallery_block):
      products = jnp.matmul(query_block, gallery_block.T,
                            precision=lax.Precision.HIGHEST)
      return jnp.maximum(best, jnp.max(products, axis=1)), None

    initial = jnp.full(query_block.shape[0], -jnp.inf, query_block.dtype)
    best, _ = lax.scan(one_gallery_block, initial, gallery_blocks)
    return best

  return lax.map(one_query_block, query_blocks)


def search_memory_bytes(queries, gallery, k):
  """Return XLA's memory estimate of the search: (arguments, temporaries, outputs)."""
  search = jax.jit(functools.partial(
      nearest_neighbors, k=k, query_block_size=QUERY_BLOCK_SIZE,
      gallery_block_size=GALLERY_BLOCK_SIZE))
  analysis = search.lower(queries, gallery).compile().memory_analysis()
  return (analysis.argument_size_in_bytes, analysis.temp_size_in_bytes,
          analysis.output_size_in_bytes)


def measure_retrieval(num_queries, num_gallery, *, dimension=128, k=10,
                      repeats=3):
  """Time the top-k search and its block products on random embeddings.

  Returns:
    A dict with "search_seconds", "products_seconds" (the reference),
    "argument_bytes", "temporary_bytes" and "output_bytes" (XLA's estimate
    for the search program) and "gallery_bytes".
  """
  query_key, gallery_key = jax.random.split(jax.random.PRNGKey(num_gallery))
  queries = jax.random.normal(query_key, (num_queries, dimension), jnp.float32)
  gallery = jax.random.normal(gallery_key, (num_gallery, dimension), jnp.float32)

  def search():
    return nearest_neighbors(
        queries, gallery, k, query_block_size=QUERY_BLOCK_SIZE,
        gallery_block_size=GALLERY_BLOCK_SIZE)

  query_block_size, gallery_block_size = search_block_sizes(
      num_queries, num_gallery, k)
  products = functools.partial(
      blockwise_products, queries, gallery, query_block_size=query_block_size,
      gallery_block_size=gallery_block_size)
  seconds = timing.interleaved_best_seconds(
      {"search": search, "products": products},
      repeats=repeats)
  argument_bytes, temporary_bytes, output_bytes = search_memory_bytes(
      queries, gallery, k)
  return {
      "search_seconds": seconds["search"],
      "products_seconds": seconds["products"],
      "argument_bytes": argument_bytes,
      "temporary_bytes": temporary_bytes,
      "output_bytes": output_bytes,
      "gallery_bytes": gallery.size * gallery.dtype.itemsize,
  }
