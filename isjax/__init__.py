"""isjax: the inward scale layer IS(x, ξ) and SimpleNet in JAX and Flax.

Importing isjax loads only jax and flax. The data pipeline (`isjax.data`)
needs tensorflow and tensorflow-datasets; `load_trained` needs orbax.
"""

from isjax.nn import InwardScale
from isjax.ops import inward_scale

__version__ = "0.1.0"


def __getattr__(name):
  # Imported on first use so that `import isjax` stays free of orbax.
  if name == "load_trained":
    from isjax.inference import load_trained  # pylint: disable=g-import-not-at-top
    return load_trained
  raise AttributeError(f"module 'isjax' has no attribute {name!r}")
