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
from isjax.retrieval import nearest_neighbors

QUERY_BLOCK_SIZE = 1024
GALLERY_BLOCK_SIZE = 8192


def _blocks(array, max_block_size):
  """Reshape rows into the fewest blocks of at most `max_block_size` (zero padding).

  The blocks are as even as `nearest_neighbors` makes them.
  """
  num_blocks = math.ceil(array.shape[0] / max_block_size)
  block_size = math.ceil(array.shape[0] / num_blocks)
  padding = num_blocks * block_size - array.shape[0]
  array = jnp.pad(array, ((0, padding), (0, 0)))
  return array.reshape(num_blocks, block_size, array.shape[1])


@jax.jit
def blockwise_products(queries, gallery):
  """Return max_g q·g per query, from the block products `nearest_neighbors` computes."""
  query_blocks = _blocks(queries, QUERY_BLOCK_SIZE)
  gallery_blocks = _blocks(gallery, GALLERY_BLOCK_SIZE)

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

  seconds = timing.interleaved_best_seconds(
      {"search": search,
       "products": functools.partial(blockwise_products, queries, gallery)},
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
