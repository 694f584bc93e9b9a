"""Shared test set-up."""

import os
import sys

import jax

# The repository root, so that tests can import `configs` and the entry points.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# As in isjax.training.train_state: partitionable threefry makes XLA:CPU
# compile parameter initialisers about ten times slower.
jax.config.update("jax_threefry_partitionable", False)
