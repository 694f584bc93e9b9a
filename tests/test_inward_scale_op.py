"""Tests of isjax.inward_scale: values, both gradients, dtypes, transforms, errors."""

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from isjax import inward_scale
from isjax.ops import DEFAULT_EPS


def reference_inward_scale(x, xi, eps, axis=-1):
  """Float64 NumPy version of IS(x) = x / (xi sqrt(sum x^2 + eps))."""
  x = np.asarray(x, np.float64)
  norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True) + eps)
  return x / (xi * norm)


def plain_inward_scale(x, xi, eps, axis=-1):
  """The formula in jax.numpy, differentiated by ordinary autodiff."""
  norm = jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=True) + eps)
  return x / (xi * norm)


@pytest.fixture(autouse=True)
def enable_x64():
  with jax.enable_x64(True):
    yield


def test_forward_hand_computed():
  # (3, 4) has norm 5; with xi = 10 the output is (3, 4) / 50.
  output = inward_scale(jnp.array([3.0, 4.0]), 10.0, eps=0.0)
  np.testing.assert_allclose(output, [0.06, 0.08], rtol=1e-6)


def test_forward_eps_inside_square_root():
  # sqrt(3^2 + 4^2 + 11) = 6, so the output is (3, 4) / (2 * 6).
  output = inward_scale(jnp.array([3.0, 4.0]), 2.0, eps=11.0)
  np.testing.assert_allclose(output, [0.25, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_forward_matches_float64_reference(axis):
  x = np.random.default_rng(0).normal(size=(3, 5, 7)).astype(np.float32)
  output = inward_scale(x, 100.0, axis=axis)
  expected = reference_inward_scale(x, 100.0, DEFAULT_EPS, axis)
  np.testing.assert_allclose(output, expected, rtol=2e-6, atol=1e-9)
  assert output.shape == x.shape
  assert output.dtype == jnp.float32


def test_exact_vjp_matches_autodiff():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(4, 6)))
  cotangent = jnp.asarray(rng.normal(size=(4, 6)))
  for axis in (0, 1):
    _, ours = jax.vjp(
        lambda v: inward_scale(v, 7.0, eps=0.3, axis=axis, gradient="exact"), x)
    _, autodiff = jax.vjp(lambda v: plain_inward_scale(v, 7.0, 0.3, axis), x)
    np.testing.assert_allclose(ours(cotangent)[0], autodiff(cotangent)[0],
                               rtol=1e-12)


def test_exact_vjp_hand_computed():
  # x = (3, 4), n = 5, u = (0.6, 0.8), g = (1, 0): <u, g> = 0.6 and
  # (g - 0.6 u) / (xi n) = (0.64, -0.48) / 50 for xi = 10.
  grad = jax.grad(lambda v: inward_scale(v, 10.0, eps=0.0, gradient="exact")[0])(
      jnp.array([3.0, 4.0]))
  np.testing.assert_allclose(grad, [0.0128, -0.0096], rtol=1e-12)


def test_appendix_vjp_is_xi_times_exact():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(5, 8)))
  cotangent = jnp.asarray(rng.normal(size=(5, 8)))
  xi = 100.0
  _, exact = jax.vjp(lambda v: inward_scale(v, xi, gradient="exact"), x)
  _, appendix = jax.vjp(lambda v: inward_scale(v, xi, gradient="appendix"), x)
  np.testing.assert_allclose(appendix(cotangent)[0], xi * exact(cotangent)[0],
                             rtol=1e-12)


def test_exact_gradient_check_grads_second_order():
  x = jnp.asarray(np.random.default_rng(3).normal(size=(3, 4)))
  function = lambda v: inward_scale(v, 3.0, eps=0.1, gradient="exact")
  jtu.check_grads(function, (x,), order=2, modes=["rev"])


def test_appendix_gradient_against_finite_differences():
  # The appendix VJP is xi times the true derivative, so central differences
  # of the forward times xi must match it.
  rng = np.random.default_rng(4)
  x = rng.normal(size=6)
  weights = rng.normal(size=6)
  xi, eps, step = 5.0, 0.01, 1e-6
  loss = lambda v: jnp.sum(weights * inward_scale(v, xi, eps=eps))
  grad = jax.grad(loss)(jnp.asarray(x))
  for i in range(6):
    shift = np.zeros(6)
    shift[i] = step
    numerical = (loss(jnp.asarray(x + shift)) - loss(jnp.asarray(x - shift))) / (
        2 * step)
    np.testing.assert_allclose(grad[i], xi * numerical, rtol=1e-6)


def test_grad_of_grad_both_modes():
  x = jnp.asarray(np.random.default_rng(5).normal(size=5))
  for mode in ("exact", "appendix"):
    scalar = lambda v, mode=mode: jnp.sum(
        jnp.sin(inward_scale(v, 2.0, eps=0.1, gradient=mode)))
    hessian_vector = jax.grad(lambda v: jnp.sum(jax.grad(scalar)(v)))(x)
    assert np.all(np.isfinite(hessian_vector))

  # In exact mode the Hessian equals the plain formula's.
  plain = lambda v: jnp.sum(jnp.sin(plain_inward_scale(v, 2.0, 0.1)))
  ours = lambda v: jnp.sum(jnp.sin(inward_scale(v, 2.0, eps=0.1, gradient="exact")))
  np.testing.assert_allclose(jax.hessian(ours)(x), jax.hessian(plain)(x),
                             rtol=1e-10, atol=1e-12)


def test_zero_vector_output_and_gradient():
  zero = jnp.zeros(4)
  output, vjp = jax.vjp(lambda v: inward_scale(v, 10.0, gradient="exact"), zero)
  np.testing.assert_array_equal(output, np.zeros(4))
  # At x = 0, u = 0 and n = sqrt(eps): the gradient is g / (xi sqrt(eps)).
  cotangent = jnp.array([1.0, -2.0, 0.5, 0.0])
  np.testing.assert_allclose(
      vjp(cotangent)[0], cotangent / (10.0 * np.sqrt(DEFAULT_EPS)), rtol=1e-9)


def test_zero_vector_without_eps_is_finite():
  output, vjp = jax.vjp(lambda v: inward_scale(v, 10.0, eps=0.0), jnp.zeros(3))
  np.testing.assert_array_equal(output, np.zeros(3))
  np.testing.assert_array_equal(vjp(jnp.ones(3))[0], np.zeros(3))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("magnitude", [1e-30, 1e-20, 1e20, 1e30, 1e38])
def test_extreme_magnitudes_finite(dtype, magnitude):
  x = (jnp.array([1.0, -2.0, 2.0]) * magnitude).astype(dtype)
  for mode in ("exact", "appendix"):
    output, vjp = jax.vjp(lambda v, mode=mode: inward_scale(
        v, 100.0, eps=0.0, gradient=mode), x)
    grad = vjp(jnp.ones_like(x))[0]
    assert np.all(np.isfinite(output))
    assert np.all(np.isfinite(grad))
    # With eps = 0 the direction is exact at any scale: (1, -2, 2) / 3 / 100.
    np.testing.assert_allclose(output, np.array([1, -2, 2]) / 300, rtol=1e-5)


def test_one_extreme_row_leaves_other_rows_unchanged():
  # A row whose squared norm overflows sends the whole array through the
  # rescaled computation; the ordinary rows must come out as on the direct one.
  normal = jax.random.normal(jax.random.PRNGKey(3), (4, 64), jnp.float32)
  extreme = jnp.concatenate([normal, jnp.full((1, 64), 1e30, jnp.float32)])
  cotangent = jax.random.normal(
      jax.random.PRNGKey(4), extreme.shape, jnp.float32)
  for mode in ("exact", "appendix"):
    def apply(v, mode=mode):
      return inward_scale(v, 100.0, gradient=mode)
    direct, direct_vjp = jax.vjp(apply, normal)
    mixed, mixed_vjp = jax.vjp(apply, extreme)
    np.testing.assert_allclose(mixed[:4], direct, rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(mixed_vjp(cotangent)[0][:4],
                               direct_vjp(cotangent[:4])[0], rtol=2e-5,
                               atol=1e-7)
    np.testing.assert_allclose(mixed[4], np.full(64, 1 / (8 * 100)), rtol=1e-6)


def test_tiny_input_with_default_eps_is_finite():
  x = jnp.full((3,), 1e-30, jnp.float32)
  output, vjp = jax.vjp(lambda v: inward_scale(v, 100.0), x)
  assert np.all(np.isfinite(output))
  assert np.all(np.isfinite(vjp(jnp.ones_like(x))[0]))


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32,
                                   jnp.float64])
def test_dtypes_preserved_and_accurate(dtype):
  x32 = np.random.default_rng(6).normal(size=(4, 64)).astype(np.float32)
  x = jnp.asarray(x32).astype(dtype)
  output, vjp = jax.vjp(lambda v: inward_scale(v, 100.0), x)
  grad = vjp(jnp.ones_like(x))[0]
  assert output.dtype == dtype
  assert grad.dtype == dtype

  expected = reference_inward_scale(np.asarray(x.astype(jnp.float32)), 100.0,
                                    DEFAULT_EPS)
  tolerance = {jnp.float16: 2e-3, jnp.bfloat16: 1e-2}.get(dtype, 1e-6)
  np.testing.assert_allclose(np.asarray(output, np.float64), expected,
                             rtol=tolerance, atol=tolerance * 1e-2)


def test_float16_large_values_accumulate_in_float32():
  # 300^2 * 64 overflows float16 (max 65504) but not the float32 accumulator.
  x = jnp.full((64,), 300.0, jnp.float16)
  output = inward_scale(x, 1.0, eps=0.0)
  np.testing.assert_allclose(np.asarray(output, np.float32), 1 / 8, rtol=1e-3)


def test_jit_vmap_and_batch_shapes():
  x = jnp.asarray(np.random.default_rng(7).normal(size=(2, 3, 5)))
  direct = inward_scale(x, 50.0)
  jitted = jax.jit(lambda v: inward_scale(v, 50.0))(x)
  mapped = jax.vmap(jax.vmap(lambda v: inward_scale(v, 50.0)))(x)
  np.testing.assert_allclose(jitted, direct, rtol=1e-12)
  np.testing.assert_allclose(mapped, direct, rtol=1e-12)

  grads = jax.vmap(jax.grad(lambda v: inward_scale(v, 50.0, gradient="exact")[0]))(
      x.reshape(6, 5))
  expected = jax.vmap(jax.grad(lambda v: plain_inward_scale(v, 50.0, DEFAULT_EPS)[0]))(
      x.reshape(6, 5))
  np.testing.assert_allclose(grads, expected, rtol=1e-10)


def test_value_and_grad_and_sharded_jit():
  devices = jax.devices()
  mesh = jax.sharding.Mesh(np.asarray(devices), ("data",))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  x = jax.device_put(
      jnp.asarray(np.random.default_rng(8).normal(size=(len(devices) * 2, 4))),
      sharding)
  loss = lambda v: jnp.sum(inward_scale(v, 10.0, gradient="exact") ** 3)
  value, grad = jax.jit(jax.value_and_grad(loss))(x)
  plain_value, plain_grad = jax.value_and_grad(
      lambda v: jnp.sum(plain_inward_scale(v, 10.0, DEFAULT_EPS) ** 3))(x)
  np.testing.assert_allclose(value, plain_value, rtol=1e-10)
  np.testing.assert_allclose(grad, plain_grad, rtol=1e-10)


def test_residuals_are_output_and_row_norm():
  x = jnp.ones((128, 256), jnp.float32)
  with jax.enable_x64(False):
    _, residuals = jax.vjp(lambda v: inward_scale(v, 100.0), x)
    leaves = [leaf for leaf in jax.tree.leaves(residuals)
              if hasattr(leaf, "shape")]
  sizes = sorted(int(np.prod(leaf.shape)) for leaf in leaves)
  # One full-size array (the output) and one value per row (1 / n(x)).
  assert sizes == [128, 128 * 256]


def test_gradient_modes_train_alike_under_adam():
  # Adam divides by the gradient's RMS, so a constant factor xi cancels up to
  # Adam's epsilon: one Adam step from the same point moves the same way.
  import optax  # pylint: disable=g-import-not-at-top
  x = jnp.asarray(np.random.default_rng(9).normal(size=(8,)))
  target = jnp.linspace(-0.005, 0.005, 8)
  steps = {}
  for mode in ("exact", "appendix"):
    loss = lambda v, mode=mode: jnp.sum(
        (inward_scale(v, 100.0, gradient=mode) - target) ** 2)
    optimizer = optax.adam(1e-2, eps=1e-20)
    updates, _ = optimizer.update(jax.grad(loss)(x), optimizer.init(x))
    steps[mode] = updates
  np.testing.assert_allclose(steps["exact"], steps["appendix"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"xi": 0.0}, ValueError, "xi must be a finite number > 0, got 0.0"),
    ({"xi": -1.0}, ValueError, "got -1.0"),
    ({"xi": float("inf")}, ValueError, "got inf"),
    ({"xi": float("nan")}, ValueError, "got nan"),
    ({"xi": jnp.array(2.0)}, TypeError, "xi must be a Python number"),
    ({"eps": -1e-3}, ValueError, "eps must be a finite number >= 0, got -0.001"),
    ({"gradient": "paper"}, ValueError, "('appendix', 'exact')"),
    ({"axis": 2}, ValueError, "axis 2 is out of range for an input of shape (2, 3)"),
    ({"axis": -3}, ValueError, "valid axes are -2..1"),
    ({"axis": 1.0}, TypeError, "axis must be an int"),
])
def test_bad_arguments_raise(kwargs, error, fragment):
  arguments = {"xi": 100.0, **kwargs}
  xi = arguments.pop("xi")
  with pytest.raises(error) as raised:
    inward_scale(jnp.ones((2, 3)), xi, **arguments)
  assert fragment in str(raised.value)


def test_integer_input_raises():
  with pytest.raises(TypeError, match="floating-point input, got dtype int32"):
    inward_scale(jnp.ones((2, 3), jnp.int32))


def test_scalar_input_raises():
  with pytest.raises(ValueError, match="out of range for an input of shape"):
    inward_scale(jnp.float32(1.0))
