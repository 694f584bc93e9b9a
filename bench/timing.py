"""Wall-clock timing of jitted JAX calls, and a dense-matmul FLOP/s reference.

Every benchmark times a call and its reference the same way in the same
process, so that their ratio cancels most of the noise of a shared machine.
Times are the minimum over repetitions: other work on the machine only ever
adds time, so the fastest repetition is the closest to the program's own cost.
"""

import time

import jax
import jax.numpy as jnp


def best_seconds(function, *, repeats, warmup=1):
  """Return the minimum wall time of `function()` over `repeats` calls.

  The result of each call is passed to `jax.block_until_ready`, so
  asynchronous dispatch does not hide any work. The `warmup` calls before
  (compilation, first-touch allocations) are not timed.
  """
  if repeats < 1:
    raise ValueError(f"repeats must be at least 1, got {repeats}.")
  for _ in range(warmup):
    jax.block_until_ready(function())

  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(function())
    times.append(time.perf_counter() - start)
  return min(times)


def interleaved_best_seconds(functions, *, repeats, warmup=1):
  """Return {name: minimum wall time} of calls to several functions, interleaved.

  Each round calls every function once, in turn, so that a slow phase of a
  shared machine slows all of them alike instead of one, which keeps their
  ratios steady.

  Args:
    functions: dict of name -> function of no arguments.
    repeats: number of rounds.
    warmup: untimed rounds before the first timed one.
  """
  if repeats < 1:
    raise ValueError(f"repeats must be at least 1, got {repeats}.")
  for _ in range(warmup):
    for function in functions.values():
      jax.block_until_ready(function())

  times = {name: [] for name in functions}
  for _ in range(repeats):
    for name, function in functions.items():
      start = time.perf_counter()
      jax.block_until_ready(function())
      times[name].append(time.perf_counter() - start)
  return {name: min(values) for name, values in times.items()}


def timed_compile(jitted, *args):
  """Return (compiled executable, seconds to trace, lower and compile)."""
  start = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  return compiled, time.perf_counter() - start


def compiled_flops(compiled):
  """Return XLA's count of floating-point operations of one call, or None."""
  analysis = compiled.cost_analysis()
  # Older JAX versions return one dict per device program in a list.
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  if not analysis or "flops" not in analysis:
    return None
  return float(analysis["flops"])


def matmul_flops_per_second(size, *, repeats):
  """Return the float32 FLOP/s of a `size` x `size` matrix product.

  The practical compute limit of the device, as XLA reaches it: a model that
  runs at this rate would be limited by arithmetic alone.
  """
  keys = jax.random.split(jax.random.PRNGKey(0))
  a = jax.random.normal(keys[0], (size, size), jnp.float32)
  b = jax.random.normal(keys[1], (size, size), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  seconds = best_seconds(lambda: matmul(a, b), repeats=repeats)
  return 2 * size**3 / seconds
