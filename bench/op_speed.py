r"""Forward + backward time of `inward_scale` against autodiff and bandwidth.

For x of shape [rows, features] and a cotangent g of the same shape, one
forward + backward pass computes y = IS(x, ξ) and dL/dx = VJP(g). It has to
read x and g and write y and dL/dx at least: four arrays of rows × features
float32 values. Three programs are timed on the same arrays:

* ``inward_scale`` with its custom VJP, in both gradient modes;
* plain autodiff of the same formula, y = x / (ξ sqrt(Σ x² + E));
* an elementwise program that reads x and g and writes two arrays, which moves
  the same bytes and so runs at the memory-bandwidth limit.
"""

import functools

import jax
import jax.numpy as jnp

from bench import report
from bench import timing
from isjax.ops import inward_scaling

XI = 100.0


def autodiff_inward_scale(x, xi=XI, eps=inward_scaling.DEFAULT_EPS):
  """IS(x, ξ) written as its formula, differentiated by JAX's autodiff."""
  norm = jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)
  return x / (xi * norm)


def _forward_backward(function):
  """Return a jitted (x, g) -> (function(x), VJP of function at x applied to g)."""
  def run(x, cotangent):
    output, pullback = jax.vjp(function, x)
    return output, pullback(cotangent)[0]
  return jax.jit(run)


@jax.jit
def _same_bytes_elementwise(x, cotangent):
  # Two reads and two writes of [rows, features]. Stacked, the two results are
  # one loop fusion (XLA:CPU, jax 0.10.2): returned separately, they were two
  # fusions that read x twice.
  return jnp.stack([x * 2.0, x * cotangent])


def benchmark_op(rows=4096, features=1152, *, repeats=50):
  """Time forward + backward of IS(x, ξ); return a list of measurements."""
  keys = jax.random.split(jax.random.PRNGKey(0))
  x = jax.random.normal(keys[0], (rows, features), jnp.float32)
  cotangent = jax.random.normal(keys[1], (rows, features), jnp.float32)

  programs = {
      "autodiff": _forward_backward(autodiff_inward_scale),
      "bandwidth": _same_bytes_elementwise,
  }
  for mode in inward_scaling.GRADIENT_MODES:
    programs[mode] = _forward_backward(
        functools.partial(inward_scaling.inward_scale, xi=XI, gradient=mode))
  seconds = timing.interleaved_best_seconds(
      {name: functools.partial(program, x, cotangent)
       for name, program in programs.items()},
      repeats=repeats)
  milliseconds = {name: 1e3 * value for name, value in seconds.items()}

  moved_bytes = 4 * x.size * x.dtype.itemsize
  shape = f"({rows}, {features}) f32"
  measurements = []
  for mode in inward_scaling.GRADIENT_MODES:
    case = f"IS {mode} custom_vjp, fwd+bwd {shape}"
    measurements.append(report.measurement(
        "op", case, milliseconds[mode], "ms",
        reference="autodiff of the formula",
        reference_value=milliseconds["autodiff"], at_most=1.0))
    measurements.append(report.measurement(
        "op", case, milliseconds[mode], "ms",
        reference="elementwise op moving the same bytes",
        reference_value=milliseconds["bandwidth"], at_most=1.5,
        note=(f"{moved_bytes / seconds[mode] / 1e9:.1f} GB/s vs "
              f"{moved_bytes / seconds['bandwidth'] / 1e9:.1f} GB/s")))
  return measurements
