"""Exact k-nearest-neighbour search in blocks, for retrieval evaluation.

The distance matrix between all queries and the whole gallery never exists at
once: each query block walks over the gallery one block at a time and keeps a
running list of its k best candidates. Peak memory is therefore
O(query_block_size × (gallery_block_size + k)) floats, besides the inputs and
the [Q, k] result.
"""

import functools
import math
import numbers

import jax
from jax import lax
import jax.numpy as jnp

DISTANCES = ("euclidean", "cosine")

# The mesh axis that query blocks are split over when a mesh is given.
DATA_AXIS = "data"

# Limits of the chunk minima prefilter (see _gallery_blocking): the smallest
# chunk, and the smallest gallery block size per neighbour that uses chunks.
MIN_CHUNK_SIZE = 32
MIN_BLOCK_SIZE_PER_K_FOR_CHUNKS = 160


def nearest_neighbors(
    queries,
    gallery,
    k,
    *,
    distance="euclidean",
    query_block_size=1024,
    gallery_block_size=8192,
    exclude_self=False,
    query_indices=None,
    mesh=None,
):
  r"""Find the exact k nearest gallery items of every query, in blocks.

  Distances:

  * ``"euclidean"``: :math:`d(q, g) = \lVert q - g \rVert_2`. The ranking
    uses the squared distance, computed as
    :math:`\lVert q \rVert^2 - 2\, q \cdot g + \lVert g \rVert^2` with one
    matrix product per block and clamped at 0 against rounding. The returned
    distances are the square roots of these values.
  * ``"cosine"``: :math:`d(q, g) = 1 - \hat q \cdot \hat g` on L2-normalised
    vectors, in [0, 2]. A zero vector stays zero after normalisation, so its
    distance to every item is 1.

  The matrix products run at ``lax.Precision.HIGHEST``, because the default
  precision of TPUs (bfloat16 passes) and recent GPUs (TF32) reorders close
  neighbours. The search runs in float32, or in float64 for float64 inputs.

  Ties: items at equal distance are ordered by gallery index, lower first, so
  the result is deterministic. ``lax.top_k`` returns equal values in index
  order, and each merge places the running best list (lower gallery indices)
  before the new block's candidates, which are in gallery index order. That
  keeps the order across blocks. Distances are mapped from -0.0 to +0.0
  first, because ``lax.top_k`` ranks +0.0 above -0.0.

  Blocking: the gallery is padded to a multiple of ``gallery_block_size`` with
  entries at +inf distance. The queries are padded to a multiple of
  ``query_block_size`` (times the number of devices with ``mesh``), and the
  padded rows are dropped from the result. For each query block a
  ``lax.scan`` over the gallery blocks merges each block's distances into the
  running k best:

  * Gallery blocks of fewer than 160 × k items are merged whole: one
    ``lax.top_k`` keeps the k smallest of the running best and the block.
  * Larger blocks are split into chunks of consecutive items, a power of two
    near sqrt(block size / k) and at least 32. One ``lax.top_k`` picks the k
    chunks with the smallest minima (ties: lower chunk first), and a second
    keeps the k smallest of the running best and those chunks, taken in
    chunk order. The result is the same as with whole blocks, ties included,
    because the chunk of each of the k nearest items is always among the k
    picked. It is faster because one ``lax.top_k`` over a whole block costs
    more than the block's matrix product (measured on a 2-core x86 CPU).

  Memory is therefore O(query_block_size × (gallery_block_size + k)) and
  never O(Q × G). The block sizes are upper bounds: the blocks are evened out
  to the smallest size that needs the same number of blocks, which keeps the
  padding small. Chunked gallery blocks are evened out in whole chunks. That
  can need more blocks only when ``gallery_block_size`` is not a multiple of
  the chunk size. The whole search is one jitted program, compiled once per
  combination of input shapes and options.

  Self-exclusion: with ``exclude_self=True`` the gallery is taken to contain
  the queries, and query i never retrieves gallery item ``query_indices[i]``
  (by default ``i``, which needs Q == G). An index outside [0, G) excludes
  nothing.

  Args:
    queries: [Q, D] array of query embeddings.
    gallery: [G, D] array of gallery embeddings.
    k: number of neighbours, 1 <= k <= G (k <= G - 1 with ``exclude_self``).
    distance: one of ``DISTANCES``: ``"euclidean"`` or ``"cosine"``.
    query_block_size: queries processed together; the working set holds
      up to ``query_block_size × (gallery_block_size + k)`` distances.
    gallery_block_size: gallery items compared per step.
    exclude_self: whether query i must not retrieve gallery item
      ``query_indices[i]``.
    query_indices: [Q] integer array, the gallery position of each query; only
      used with ``exclude_self=True``. Defaults to ``arange(Q)``.
    mesh: optional ``jax.sharding.Mesh`` with a ``"data"`` axis. Query blocks
      are split over that axis (``jax.shard_map``) and the gallery is
      replicated on every device, and so is the result. The blocks may be
      sized differently than without a mesh, so distances can differ in the
      last bit from a one-device search, and so can the order of neighbours
      that close. NOTE: only tested within one process (8 CPU devices), not
      with a mesh that spans several hosts.

  Returns:
    ``(distances, indices)``: ``distances`` is a [Q, k] float array sorted in
    ascending order per row (Euclidean distances, not squared, or cosine
    distances), and ``indices`` is a [Q, k] int32 array of gallery positions.
    When all distances are finite, every index is a distinct gallery position.
    NOTE: results for inputs with NaN or overflowing distances are unspecified
    and may contain the placeholder index -1.

  Raises:
    ValueError: for arrays that are not 2-D, feature dimensions that differ,
      an unknown ``distance``, ``k`` outside [1, number of candidates], block
      sizes below 1, a ``query_indices`` array of the wrong shape or without
      ``exclude_self``, or a mesh without a ``"data"`` axis.
    TypeError: for non-numeric embeddings, or a ``k``, block size or
      ``query_indices`` that is not an integer.

  Example:
    >>> import numpy as np
    >>> from isjax.retrieval import nearest_neighbors
    >>> points = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    >>> distances, indices = nearest_neighbors(points, points, 1,
    ...                                        exclude_self=True)
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([2, 2, 0], [1.0, 4.4721360206604, 1.0])
  """
  queries = jnp.asarray(queries)
  gallery = jnp.asarray(gallery)
  _validate_embeddings(queries, gallery)
  _validate_options(distance, query_block_size, gallery_block_size, mesh)
  num_queries, num_gallery = queries.shape[0], gallery.shape[0]
  _validate_k(k, num_gallery, exclude_self)
  query_indices = resolve_query_indices(
      query_indices, exclude_self, num_queries, num_gallery)
  # Index -1 matches no gallery item, so one compiled program serves searches
  # with and without self-exclusion.
  excluded_indices = (query_indices if exclude_self else
                      jnp.full((num_queries,), -1, jnp.int32))

  dtype = jnp.promote_types(jnp.result_type(queries, gallery), jnp.float32)
  if num_queries == 0:
    return jnp.zeros((0, k), dtype), jnp.zeros((0, k), jnp.int32)

  # Query blocks go to the devices in equal numbers. Evening out the blocks
  # before jit lets requests that end in the same blocks share one program.
  num_devices = 1 if mesh is None else mesh.shape[DATA_AXIS]
  num_query_blocks, query_block_size = _even_blocks(
      num_queries, query_block_size, num_devices)
  chunk_size, gallery_block_size = _gallery_blocking(
      num_gallery, gallery_block_size, k)

  return _search(
      queries,
      gallery,
      excluded_indices,
      k=k,
      distance=distance,
      num_query_blocks=num_query_blocks,
      query_block_size=query_block_size,
      gallery_block_size=gallery_block_size,
      chunk_size=chunk_size,
      mesh=mesh,
  )


def _even_blocks(num_items, max_block_size, block_multiple):
  """Return (number of blocks, block size) with the least padding.

  The number of blocks is the smallest multiple of ``block_multiple`` that
  holds ``num_items`` in blocks of at most ``max_block_size``. The block size
  is then the smallest that still fits, so 10,000 items with a maximum of
  8,192 become 2 blocks of 5,000, not 2 of 8,192.
  """
  num_blocks = math.ceil(num_items / max_block_size)
  num_blocks = math.ceil(num_blocks / block_multiple) * block_multiple
  return num_blocks, math.ceil(num_items / num_blocks)


def _gallery_blocking(num_gallery, max_block_size, k):
  """Choose the chunk size (None for whole blocks) and the gallery block size.

  Without a chunk size, each gallery block is merged whole. With one, the
  block size is evened out again in whole chunks, still within
  ``max_block_size``, and ``_merge_chunks`` runs lax.top_k over the
  block size / chunk size chunk minima and over k × chunk size candidates. A
  power of two near sqrt(block size / k) balances these two. Chunks of fewer
  than ``MIN_CHUNK_SIZE`` items measured slower (a 2-core x86 CPU, JAX
  0.10.2): their minima cost more per item, and there are more of them.
  """
  _, block_size = _even_blocks(num_gallery, max_block_size, 1)
  # lax.top_k costs more per row for a larger k. Its two calls lost to one
  # over the whole block below about 100 to 140 items per neighbour (measured
  # on a 2-core x86 CPU, JAX 0.10.2), and 160 keeps a margin.
  # NOTE: both limits were only measured on CPU. On GPU and TPU, where
  # lax.top_k costs differ, the chunks are tested for results, not speed.
  if block_size < MIN_BLOCK_SIZE_PER_K_FOR_CHUNKS * k:
    return None, block_size

  chunk_size = max(MIN_CHUNK_SIZE,
                   2**round(math.log2(math.sqrt(block_size / k))))
  _, chunks_per_block = _even_blocks(
      math.ceil(num_gallery / chunk_size), max_block_size // chunk_size, 1)
  # lax.top_k over the chunk minima needs at least k chunks, and with no more
  # than k the prefilter would keep every chunk.
  if chunks_per_block <= k:
    return None, block_size
  return chunk_size, chunks_per_block * chunk_size


def _validate_embeddings(queries, gallery):
  for name, array in (("queries", queries), ("gallery", gallery)):
    if array.ndim != 2:
      raise ValueError(
          f"{name} must be a 2-D array [num_items, dim], got shape "
          f"{array.shape}.")
    if not (jnp.issubdtype(array.dtype, jnp.floating)
            or jnp.issubdtype(array.dtype, jnp.integer)):
      raise TypeError(
          f"{name} must have a real floating-point or integer dtype, got "
          f"{array.dtype}.")

  if queries.shape[1] != gallery.shape[1]:
    raise ValueError(
        f"queries and gallery must have the same feature dimension, got "
        f"queries of shape {queries.shape} and gallery of shape "
        f"{gallery.shape}.")
  if gallery.shape[0] == 0:
    raise ValueError(
        "The gallery is empty, but the search needs at least one item.")


def _validate_options(distance, query_block_size, gallery_block_size, mesh):
  if distance not in DISTANCES:
    raise ValueError(
        f"Unknown distance {distance!r}. Valid distances are {DISTANCES}.")

  for name, value in (("query_block_size", query_block_size),
                      ("gallery_block_size", gallery_block_size)):
    if not _is_integer(value):
      raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < 1:
      raise ValueError(f"{name} must be at least 1, got {value}.")

  if mesh is not None and DATA_AXIS not in mesh.axis_names:
    raise ValueError(
        f"The mesh must have an axis named {DATA_AXIS!r} to split queries "
        f"over, got axes {mesh.axis_names}.")


def _validate_k(k, num_gallery, exclude_self):
  if not _is_integer(k):
    raise TypeError(f"k must be an integer, got {k!r}.")

  num_candidates = num_gallery - 1 if exclude_self else num_gallery
  if not 1 <= k <= num_candidates:
    detail = (f"the gallery has {num_gallery} items, {num_candidates} per "
              "query after excluding the query itself" if exclude_self else
              f"the gallery has {num_gallery} items")
    raise ValueError(
        f"k must be between 1 and the number of gallery candidates per query "
        f"({num_candidates}), got k={k}. Here {detail}.")


def resolve_query_indices(query_indices, exclude_self, num_queries,
                           num_gallery):
  """Validate ``query_indices`` and return the [Q] int32 gallery positions.

  Shared by the search and ``metrics.count_relevant`` so that both exclude the
  same gallery item of each query.
  """
  if query_indices is None:
    if exclude_self and num_queries != num_gallery:
      raise ValueError(
          f"exclude_self=True without query_indices means the queries are the "
          f"gallery itself, but there are {num_queries} queries and "
          f"{num_gallery} gallery items. Pass query_indices with the gallery "
          "position of each query.")
    return jnp.arange(num_queries, dtype=jnp.int32)

  if not exclude_self:
    raise ValueError(
        "query_indices is only used with exclude_self=True; pass "
        "exclude_self=True or leave query_indices unset.")
  query_indices = jnp.asarray(query_indices)
  if not jnp.issubdtype(query_indices.dtype, jnp.integer):
    raise TypeError(
        f"query_indices must be integers, got dtype {query_indices.dtype}.")
  if query_indices.shape != (num_queries,):
    raise ValueError(
        f"query_indices must have shape ({num_queries},), one gallery position "
        f"per query, got {query_indices.shape}.")
  return query_indices.astype(jnp.int32)


def _is_integer(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@functools.partial(
    jax.jit,
    static_argnames=("k", "distance", "num_query_blocks", "query_block_size",
                     "gallery_block_size", "chunk_size", "mesh"))
def _search(queries, gallery, excluded_indices, *, k, distance,
            num_query_blocks, query_block_size, gallery_block_size,
            chunk_size, mesh):
  """Pad and reshape into blocks, search every query block, drop the padding."""
  dtype = jnp.promote_types(jnp.result_type(queries, gallery), jnp.float32)
  queries = _replicate_explicit(queries).astype(dtype)
  gallery = _replicate_explicit(gallery).astype(dtype)
  excluded_indices = _replicate_explicit(excluded_indices)
  if distance == "cosine":
    queries = _l2_normalize(queries)
    gallery = _l2_normalize(gallery)

  # Gallery blocks [num_gallery_blocks, gallery_block_size, D]. The zero rows
  # added as padding are masked to +inf in the search.
  num_gallery, dim = gallery.shape
  num_gallery_blocks = math.ceil(num_gallery / gallery_block_size)
  gallery = _pad_rows(gallery, num_gallery_blocks * gallery_block_size)
  gallery_blocks = gallery.reshape(num_gallery_blocks, gallery_block_size, dim)
  gallery_sq_norms = jnp.sum(jnp.square(gallery_blocks), axis=-1)

  # Query blocks [num_query_blocks, query_block_size, D].
  num_queries = queries.shape[0]
  padded_queries = num_query_blocks * query_block_size
  query_blocks = _pad_rows(queries, padded_queries).reshape(
      num_query_blocks, query_block_size, dim)
  excluded_index_blocks = _pad_rows(
      excluded_indices, padded_queries, -1).reshape(
          num_query_blocks, query_block_size)

  search_blocks = functools.partial(
      _search_query_blocks, k=k, distance=distance, num_gallery=num_gallery,
      chunk_size=chunk_size)
  arguments = (query_blocks, excluded_index_blocks, gallery_blocks,
               gallery_sq_norms)
  if mesh is not None:
    split = jax.sharding.PartitionSpec(DATA_AXIS)
    replicated = jax.sharding.PartitionSpec()
    in_specs = (split, split, replicated, replicated)
    if _is_explicit_axis(mesh, DATA_AXIS):
      # With an explicit axis (the jax.make_mesh default in recent JAX) the
      # inputs must carry the in_specs shardings before shard_map accepts them.
      arguments = tuple(
          jax.reshard(argument, jax.sharding.NamedSharding(mesh, spec))
          for argument, spec in zip(arguments, in_specs))
    # check_vma=False because the scan carry starts as a replicated constant
    # and becomes device-varying, which the varying-axes check rejects.
    search_blocks = jax.shard_map(
        search_blocks, mesh=mesh, in_specs=in_specs, out_specs=(split, split),
        check_vma=False)
  distances, indices = search_blocks(*arguments)
  if mesh is not None:
    # Gather the result on every device, so that callers can read it with
    # np.asarray. With an explicit axis this must also happen before slicing
    # off the padding, which such a sharding only allows at multiples of the
    # device count.
    replicated_sharding = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec())
    if _is_explicit_axis(mesh, DATA_AXIS):
      distances = jax.reshard(distances, replicated_sharding)
      indices = jax.reshard(indices, replicated_sharding)
    else:
      distances = lax.with_sharding_constraint(distances, replicated_sharding)
      indices = lax.with_sharding_constraint(indices, replicated_sharding)

  distances = distances.reshape(padded_queries, k)[:num_queries]
  indices = indices.reshape(padded_queries, k)[:num_queries]
  if distance == "euclidean":
    distances = jnp.sqrt(distances)
  return distances, indices


def _replicate_explicit(x):
  """Replicate an array that is sharded over explicit mesh axes.

  Padding a dimension that is sharded over an explicit axis to a size that is
  not a multiple of the device count raises, so inputs such as embeddings
  sharded over the batch are gathered first.
  """
  sharding = jax.typeof(x).sharding
  if all(entry is None for entry in sharding.spec):
    return x
  return jax.reshard(
      x, jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec()))


def _is_explicit_axis(mesh, axis_name):
  axis_type = dict(zip(mesh.axis_names, mesh.axis_types))[axis_name]
  return axis_type == jax.sharding.AxisType.Explicit


def _search_query_blocks(query_blocks, excluded_index_blocks, gallery_blocks,
                         gallery_sq_norms, *, k, distance, num_gallery,
                         chunk_size):
  """Search the query blocks one after the other (lax.map keeps memory flat)."""

  def search_one(block):
    query_block, excluded_index_block = block
    return _search_query_block(
        query_block, excluded_index_block, gallery_blocks, gallery_sq_norms,
        k=k, distance=distance, num_gallery=num_gallery,
        chunk_size=chunk_size)

  return lax.map(search_one, (query_blocks, excluded_index_blocks))


def _search_query_block(query_block, excluded_index_block, gallery_blocks,
                        gallery_sq_norms, *, k, distance, num_gallery,
                        chunk_size):
  """Return the k smallest distances [qb, k] (squared if Euclidean) and indices.

  Query i of the block never retrieves gallery item ``excluded_index_block[i]``
  (-1 excludes nothing). With a ``chunk_size``, each gallery block is first
  narrowed to its k chunks with the smallest minima (see ``_merge_chunks``).
  """
  block_size = query_block.shape[0]
  num_gallery_blocks, gallery_block_size, _ = gallery_blocks.shape
  query_sq_norms = jnp.sum(jnp.square(query_block), axis=-1)
  block_starts = jnp.arange(num_gallery_blocks, dtype=jnp.int32) * (
      gallery_block_size)

  def merge_gallery_block(best, gallery_block_data):
    gallery_block, gallery_block_sq_norms, block_start = gallery_block_data

    products = jnp.matmul(
        query_block, gallery_block.T, precision=lax.Precision.HIGHEST)
    if distance == "euclidean":
      distances = (query_sq_norms[:, None] - 2 * products
                   + gallery_block_sq_norms[None, :])
    else:
      distances = 1 - products
    # Clamp rounding errors below zero and turn -0.0 into +0.0, because
    # lax.top_k orders +0.0 before -0.0 and would break the index tie order.
    distances = jnp.where(distances <= 0, 0, distances)

    gallery_indices = block_start + jnp.arange(
        gallery_block_size, dtype=jnp.int32)
    excluded = ((gallery_indices >= num_gallery)[None, :]
                | (gallery_indices[None, :] == excluded_index_block[:, None]))
    distances = jnp.where(excluded, jnp.inf, distances)

    if chunk_size is None:
      return _merge_block(best, distances, block_start), None
    return _merge_chunks(best, distances, block_start, chunk_size), None

  # The -1 placeholders sit at +inf, behind every finite distance, so they only
  # survive when a query has fewer than k finite distances.
  initial = (jnp.full((block_size, k), jnp.inf, query_block.dtype),
             jnp.full((block_size, k), -1, jnp.int32))
  (best_distances, best_indices), _ = lax.scan(
      merge_gallery_block, initial,
      (gallery_blocks, gallery_sq_norms, block_starts))
  return best_distances, best_indices


def _merge_block(best, distances, block_start):
  """Merge a gallery block's [qb, block] distances into the running best k."""
  best_distances, best_indices = best
  k = best_distances.shape[1]
  # The running best list goes first because its gallery indices are all
  # lower than this block's, and lax.top_k keeps equal values in position
  # order.
  candidates = jnp.concatenate([best_distances, distances], axis=1)
  negated_best, positions = lax.top_k(-candidates, k)
  return -negated_best, _candidate_indices(
      best_indices, positions, block_start + positions - k)


def _merge_chunks(best, distances, block_start, chunk_size):
  """Merge like ``_merge_block``, but run lax.top_k only over k chunks.

  The block's columns are split into chunks of ``chunk_size``, and only the k
  chunks with the smallest minima (ties: lower chunk first) are searched. The
  result is exact, ties included. Rank items by (distance, gallery index) and
  chunks by (minimum, chunk index). Every chunk ranked before the chunk of a
  top-k item e contains an item ranked before e: its minimum is either smaller
  than e's distance, or equal to it at a lower index. Fewer than k items rank
  before e, so fewer than k chunks rank before its chunk.
  """
  best_distances, best_indices = best
  block_size, k = best_distances.shape
  num_chunks = distances.shape[1] // chunk_size
  chunks = distances.reshape(block_size, num_chunks, chunk_size)
  _, chosen_chunks = lax.top_k(-jnp.min(chunks, axis=2), k)
  # Sorted by chunk index, the gathered candidates are in gallery index order,
  # which lax.top_k needs to keep ties lower index first.
  chosen_chunks = jnp.sort(chosen_chunks, axis=1)
  chosen_distances = jnp.take_along_axis(
      chunks, chosen_chunks[:, :, None], axis=1).reshape(block_size, -1)

  candidates = jnp.concatenate([best_distances, chosen_distances], axis=1)
  negated_best, positions = lax.top_k(-candidates, k)
  # Positions of this block's candidates, clamped to 0 for the running best
  # ones, whose indices _candidate_indices takes from best_indices instead.
  block_positions = jnp.maximum(positions - k, 0)
  chunk_starts = jnp.take_along_axis(
      chosen_chunks, block_positions // chunk_size, axis=1) * chunk_size
  block_indices = block_start + chunk_starts + block_positions % chunk_size
  return -negated_best, _candidate_indices(
      best_indices, positions, block_indices)


def _candidate_indices(best_indices, positions, block_indices):
  """Return the gallery indices of lax.top_k ``positions`` in [best, block].

  Computing them per position avoids building a [qb, k + block] index array.
  ``block_indices`` contains the indices of the positions at or past k.
  """
  k = best_indices.shape[1]
  from_best = jnp.take_along_axis(
      best_indices, jnp.minimum(positions, k - 1), axis=1)
  return jnp.where(positions < k, from_best, block_indices)


def _l2_normalize(x):
  norms = jnp.linalg.norm(x, axis=-1, keepdims=True)
  # Division (not rsqrt) keeps exactly representable unit vectors exact.
  return x / jnp.where(norms > 0, norms, 1)


def _pad_rows(x, num_rows, value=0):
  padding = [(0, num_rows - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
  return jnp.pad(x, padding, constant_values=value)
