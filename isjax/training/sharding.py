"""The device mesh, and placing host batches and state on it.

One mesh axis, ``data``, spans every device of every process: parameters and
optimizer state are replicated and batches are split along their first axis.
`jax.jit` with these shardings is what `pmap` became in current JAX, and the
same code runs on one CPU, one GPU, a TPU slice or several hosts.
"""

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec
import numpy as np

DATA_AXIS = "data"


def create_mesh(devices=None):
  """Return a one-axis mesh named ``data`` over `devices` (default: all)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated_sharding(mesh):
  return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh):
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def validate_batch_size(global_batch_size, mesh):
  """Raise ValueError unless the global batch splits evenly over the mesh."""
  num_devices = mesh.devices.size
  if global_batch_size % num_devices:
    raise ValueError(
        f"batch_size ({global_batch_size}) must be divisible by the number of "
        f"devices ({num_devices}). Set --config.batch_size to a multiple of "
        f"{num_devices}, e.g. {max(1, global_batch_size // num_devices) * num_devices}.")


def shard_batch(local_batch, mesh):
  """Assemble this process's slice of a batch into global, sharded arrays.

  Args:
    local_batch: dict of NumPy arrays, each with this process's share of the
      global batch along axis 0.
    mesh: the mesh from `create_mesh`.

  Returns:
    A dict of `jax.Array`s of global batch size, split over the ``data`` axis.
  """
  sharding = batch_sharding(mesh)
  return jax.tree.map(
      lambda array: jax.make_array_from_process_local_data(sharding, array),
      local_batch)
