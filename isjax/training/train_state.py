"""The training state: everything an exact resume needs besides the config."""

from typing import Any

import flax
import jax
import jax.numpy as jnp


class TrainState(flax.struct.PyTreeNode):
  """Parameters, optimizer state and counters of a run.

  Attributes:
    step: number of optimizer steps applied; also the position in the data,
      because the input order is a function of (seed, epoch) alone.
    params: the model's parameters.
    opt_state: the optax state.
    rng: PRNG key of the run; each step folds in its step number.
    centers: class centres of the center loss [num_classes, embedding_dim],
      updated by its alpha rule, never by gradients (zeros when unused).
    nonfinite_step: -1, or the first step whose loss or gradient was not
      finite. From then on the step leaves the state unchanged.
  """
  step: jax.Array
  params: Any
  opt_state: Any
  rng: jax.Array
  centers: jax.Array
  nonfinite_step: jax.Array


def create_train_state(model, optimizer, rng, image_shape, num_classes):
  """Initialise parameters and optimizer state for NHWC images of `image_shape`.

  Returns a `TrainState` at step 0. Call it under `jax.jit` (or
  `jax.eval_shape` for the shapes alone).
  """
  init_rng, state_rng = jax.random.split(rng)
  dummy_images = jnp.zeros((1, *image_shape), jnp.float32)

  # Partitionable threefry (JAX's default) makes XLA:CPU take ~10x longer to
  # compile the initialisers (measured: 28 s vs 4 s for SimpleNet, jax 0.10.2);
  # the parameters are replicated, so partitioning the RNG buys nothing.
  with jax.threefry_partitionable(False):
    variables = model.init(init_rng, dummy_images)
  params = variables["params"]

  embedding_dim = jax.eval_shape(
      lambda: model.apply(variables, dummy_images))["embedding"].shape[-1]
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=optimizer.init(params),
      rng=state_rng,
      centers=jnp.zeros((num_classes, embedding_dim), jnp.float32),
      nonfinite_step=jnp.full((), -1, jnp.int32))
