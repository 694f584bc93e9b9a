"""The inward scale op IS(x, ξ) with its two gradient conventions.

Reference: M. K. Janjua, S. Nawaz, A. Calefati, I. Gallo, "Learning Inward
Scaled Hypersphere Embedding: Exploring Projections in Higher Dimensions",
arXiv:1810.07037 (2018): Eq. 2 (the layer) and Appendix B (its gradient).
"""

import functools
import math
import numbers

import jax
import jax.numpy as jnp

GRADIENT_MODES = ("appendix", "exact")
DEFAULT_EPS = 1e-12


def inward_scale(x, xi=100.0, *, eps=DEFAULT_EPS, axis=-1, gradient="appendix"):
  r"""Inward scale layer IS(x, ξ): projects onto a sphere of radius 1/ξ.

  Computes, with the reduction over ``axis``,

  .. math::
    n(x) = \sqrt{\textstyle\sum_i x_i^2 + E}, \qquad
    u = x / n(x), \qquad
    \mathrm{IS}(x, \xi) = \frac{x}{\xi \, n(x)} = u / \xi

  (the paper's Eq. 2, with ``eps`` as E inside the square root).

  Gradient. For an upstream cotangent ``g``, the two conventions are

  * ``gradient="exact"``: the true derivative of the forward pass,
    ``dL/dx = (g - u <u, g>) / (ξ n(x))``.
  * ``gradient="appendix"`` (default): the paper's Appendix B form, which
    treats ξ as a constant left out of the gradient, so
    ``dL/dx = (g - u <u, g>) / n(x)``, i.e. ξ times the exact gradient.

  With Adam the two train almost alike, because Adam is invariant to a constant
  scale of the gradient up to its epsilon and coupled weight decay. With SGD the
  appendix form is the exact one at a ξ times larger learning rate.

  Numerics: the norm is accumulated in float32 for float16 and bfloat16 inputs
  and the result is returned in the input dtype. When a squared norm would
  overflow or lose precision to underflow, the rows are rescaled by their
  largest magnitude before squaring, so any finite input gives a finite output
  and gradient. A zero row gives a zero output and, for ``eps > 0``, the finite
  gradient ``g / (ξ sqrt(eps))`` (exact mode). With ``eps == 0`` the gradient of
  a zero row is defined as zero.

  Only reverse-mode differentiation is supported (``jax.custom_vjp``); grad of
  grad works in both modes because the backward pass is plain ``jax.numpy``.

  Args:
    x: floating-point array with at least one dimension.
    xi: the inward scale factor ξ > 0, a Python number (static; the paper uses
      100 and does not train it).
    eps: E >= 0, added under the square root against division by zero.
    axis: the axis that contains the feature vector.
    gradient: ``"appendix"`` or ``"exact"``.

  Returns:
    An array with the shape and dtype of ``x``.

  Raises:
    TypeError: if ``x`` is not floating point or ``xi``/``eps``/``axis`` have
      the wrong type.
    ValueError: if ``xi`` is not a finite positive number, ``eps`` is negative
      or not finite, ``axis`` is out of range or ``gradient`` is unknown.

  Example:
    >>> import jax.numpy as jnp
    >>> from isjax import inward_scale
    >>> inward_scale(jnp.array([3.0, 4.0]), xi=10.0, eps=0.0).round(4)
    Array([0.06, 0.08], dtype=float32)
  """
  x = jnp.asarray(x)
  xi, eps, axis = _validate_arguments(x, xi, eps, axis, gradient)
  return _inward_scale_jit(x, xi, eps, axis, gradient)


def _validate_arguments(x, xi, eps, axis, gradient):
  """Return (xi, eps, axis) as hashable Python values, or raise a clear error."""
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(
        f"inward_scale expects a floating-point input, got dtype {x.dtype}. "
        "Cast it first, e.g. x.astype(jnp.float32).")

  if isinstance(xi, bool) or not isinstance(xi, numbers.Real):
    raise TypeError(
        f"xi must be a Python number (it is static and not trained), got {xi!r} "
        f"of type {type(xi).__name__}.")
  if not math.isfinite(xi) or xi <= 0:
    raise ValueError(
        f"xi must be a finite number > 0, got {xi!r}. The paper uses xi=100.")

  if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
    raise TypeError(f"eps must be a Python number, got {eps!r}.")
  if not math.isfinite(eps) or eps < 0:
    raise ValueError(
        f"eps must be a finite number >= 0, got {eps!r}. "
        f"The default is {DEFAULT_EPS}.")

  if gradient not in GRADIENT_MODES:
    raise ValueError(
        f"Unknown gradient mode {gradient!r}; valid modes are {GRADIENT_MODES}.")

  if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
    raise TypeError(f"axis must be an int, got {axis!r}.")
  if not -x.ndim <= axis < x.ndim:
    raise ValueError(
        f"axis {axis} is out of range for an input of shape {x.shape}; "
        f"valid axes are {-x.ndim}..{x.ndim - 1}.")

  return float(xi), float(eps), int(axis) % x.ndim


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _inward_scale_jit(x, xi, eps, axis, gradient):
  return _inward_scale(x, xi, eps, axis, gradient)


# Rows with n(x)^2 at or above this are computed directly: a square that
# underflows (|x_i| < 2^-63) then changes n(x)^2 by at most 2^-126 per element,
# under float32 rounding for rows of up to 2^40 elements.
_MIN_DIRECT_SQUARED_NORM = 2.0**-60


def _output_and_inverse_norm(x, xi, eps, axis):
  """Return IS(x, ξ) in float32 and 1 / n(x) per row (keepdims).

  The direct formula takes one pass over x for sum(x^2) and one for the output.
  If any row's squared norm overflows or is too small for float32 (below
  2^-60), the whole array is recomputed with rows rescaled by their largest
  magnitude, which costs two more passes but keeps every finite input finite.
  NOTE: the fallback is a `lax.cond`, timed on XLA:CPU only. On GPUs XLA may
  read its one boolean predicate on the host, once per call.
  """
  x32 = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  squared_norm = jnp.sum(x32 * x32, axis=axis, keepdims=True) + eps
  direct_is_accurate = jnp.all(
      jnp.isfinite(squared_norm) & (squared_norm >= _MIN_DIRECT_SQUARED_NORM))

  def direct(x32, squared_norm):
    inverse_norm = 1.0 / jnp.sqrt(squared_norm)
    # One multiplication per element: the per-row factor includes 1/ξ.
    return x32 * (inverse_norm / xi), inverse_norm

  def rescaled(x32, squared_norm):
    del squared_norm
    unit, inverse_norm = _rescaled_unit_and_inverse_norm(x32, eps, axis)
    return unit / xi, inverse_norm

  return jax.lax.cond(direct_is_accurate, direct, rescaled, x32, squared_norm)


def _rescaled_unit_and_inverse_norm(x32, eps, axis):
  """Return u = x / n(x) and 1 / n(x) per row (keepdims), for any finite x.

  Both are computed without overflow or underflow: the row is divided by (about)
  its largest magnitude m before squaring, so n(x) / m = hypot(|x / m|, sqrt(E) / m).
  """
  sqrt_eps = jnp.sqrt(jnp.asarray(eps, x32.dtype))

  # The result does not depend on m, so m needs no gradient.
  row_max = jax.lax.stop_gradient(
      jnp.max(jnp.abs(x32), axis=axis, keepdims=True))
  # XLA may divide by m as a multiplication by 1/m, which flushes to zero for
  # m > 2^126; clipping keeps 1/m normal and |x / m| <= 2^8.
  safe_max = jnp.where(row_max > 0, jnp.clip(row_max, 2.0**-120, 2.0**120), 1.0)
  scaled = x32 / safe_max
  scaled_norm = jnp.sqrt(jnp.sum(scaled * scaled, axis=axis, keepdims=True))

  # n(x) / m; zero only for a zero row with eps == 0.
  relative_norm = jnp.hypot(scaled_norm, sqrt_eps / safe_max)
  nonzero = relative_norm > 0
  unit = scaled / jnp.where(nonzero, relative_norm, 1.0)

  # m * relative_norm can overflow for huge rows; hypot on the unscaled norm
  # cannot, except when the norm itself exceeds the float range (then 1/n -> 0).
  norm = jnp.hypot(safe_max * scaled_norm, sqrt_eps)
  inverse_norm = jnp.where(nonzero, 1.0 / jnp.where(nonzero, norm, 1.0), 0.0)
  return unit, inverse_norm


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _inward_scale(x, xi, eps, axis, gradient):
  del gradient  # Only the backward pass depends on it.
  output, _ = _output_and_inverse_norm(x, xi, eps, axis)
  return output.astype(x.dtype)


def _inward_scale_forward(x, xi, eps, axis, gradient):
  del gradient
  output, inverse_norm = _output_and_inverse_norm(x, xi, eps, axis)
  output = output.astype(x.dtype)

  # Residuals: the output (full size, input dtype) and 1/n(x) (one per row).
  return output, (output, inverse_norm)


def _inward_scale_backward(xi, eps, axis, gradient, residuals, cotangent):
  del eps
  output, inverse_norm = residuals
  y = output.astype(inverse_norm.dtype)
  g = cotangent.astype(inverse_norm.dtype)

  # Component of g orthogonal to u = ξ y, divided by n(x): the appendix form.
  # u <u, g> = y (ξ² <y, g>), so only per-row factors multiply the full arrays.
  radial = (xi * xi) * jnp.sum(y * g, axis=axis, keepdims=True)
  row_factor = inverse_norm if gradient == "appendix" else inverse_norm / xi
  grad = (g - y * radial) * row_factor
  return (grad.astype(cotangent.dtype),)


_inward_scale.defvjp(_inward_scale_forward, _inward_scale_backward)
