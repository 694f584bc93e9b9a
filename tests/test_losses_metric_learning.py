"""Tests of the contrastive loss and the center loss with its centre update."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fake_devices import run_on_eight_devices
from isjax.losses.center import center_loss
from isjax.losses.center import update_centers
from isjax.losses.contrastive import contrastive_loss


# Three 2-D embeddings with margin 1:
#   e0 = (0, 0) class 0, e1 = (3, 4) class 0, e2 = (0, 0.5) class 1.
# Pair (0, 1): similar, d = 5, loss 0.5 * 25 = 12.5.
# Pair (0, 2): dissimilar, d = 0.5, loss 0.5 * (1 - 0.5)^2 = 0.125.
# Pair (1, 2): dissimilar, d = sqrt(9 + 12.25) = 4.61 > 1, loss 0.
EMBEDDINGS = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.5]], np.float32)
LABELS = np.array([0, 0, 1])


def test_contrastive_all_pairs_hand_computed():
  # Mean over the 3 pairs: (12.5 + 0.125 + 0) / 3 = 4.2083333.
  loss = contrastive_loss(EMBEDDINGS, LABELS, margin=1.0)
  np.testing.assert_allclose(loss, 12.625 / 3, rtol=1e-6)


def test_contrastive_balanced_hand_computed():
  # Similar mean 12.5 / 1, dissimilar mean (0.125 + 0) / 2 = 0.0625;
  # (12.5 + 0.0625) / 2 = 6.28125.
  loss = contrastive_loss(EMBEDDINGS, LABELS, margin=1.0, pairs="balanced")
  np.testing.assert_allclose(loss, 6.28125, rtol=1e-6)


def test_contrastive_balanced_without_similar_pairs():
  # Only the dissimilar pair (0, 2) with loss 0.125: its mean is 0.125, the
  # similar mean over no pairs is 0, so the loss is 0.125 / 2.
  loss = contrastive_loss(EMBEDDINGS[[0, 2]], LABELS[[0, 2]],
                          pairs="balanced")
  np.testing.assert_allclose(loss, 0.0625, rtol=1e-6)


def test_contrastive_mask_ignores_padding():
  # A fourth, masked example next to e0 with another class would add a
  # dissimilar pair with a large loss if it counted.
  embeddings = np.concatenate([EMBEDDINGS, [[0.0, 0.1]]]).astype(np.float32)
  labels = np.array([0, 0, 1, 2])
  mask = np.array([True, True, True, False])

  for pairs in ("all", "balanced"):
    masked = contrastive_loss(embeddings, labels, mask=mask, pairs=pairs)
    unpadded = contrastive_loss(EMBEDDINGS, LABELS, pairs=pairs)
    np.testing.assert_allclose(masked, unpadded, rtol=1e-6)


def test_contrastive_all_masked_is_zero():
  loss = contrastive_loss(EMBEDDINGS, LABELS, mask=np.zeros(3, bool))
  assert loss == 0


def test_contrastive_margin_scales_dissimilar_term():
  # Margin 5: pair (0, 2) costs 0.5 * 4.5^2 = 10.125 and pair (1, 2) costs
  # 0.5 * (5 - sqrt(21.25))^2 = 0.5 * 0.3902^2 ≈ 0.0761; with 12.5 from the
  # similar pair the mean is (12.5 + 10.125 + 0.0761) / 3.
  loss = contrastive_loss(EMBEDDINGS, LABELS, margin=5.0)
  dissimilar_far = 0.5 * (5 - np.sqrt(21.25))**2
  np.testing.assert_allclose(loss, (12.5 + 10.125 + dissimilar_far) / 3,
                             rtol=1e-5)


def test_contrastive_gradient_finite_at_identical_embeddings():
  # Identical embeddings: every distance is 0, where sqrt has no derivative.
  embeddings = jnp.ones((4, 3))
  labels = jnp.array([0, 0, 1, 2])

  @jax.jit
  def losses_and_gradients(embeddings):
    return [jax.value_and_grad(contrastive_loss)(embeddings, labels,
                                                 pairs=pairs)
            for pairs in ("all", "balanced")]

  for loss, gradient in losses_and_gradients(embeddings):
    assert np.isfinite(loss)
    assert np.all(np.isfinite(gradient))


def test_contrastive_gradient_hand_computed():
  # L = (1/3) [0.5 d01^2 + 0.5 max(0, 1 - d02)^2 + 0] with d02 = 0.5.
  # dL/de0 = (1/3) [(e0 - e1) - (1 - d02) (e0 - e2) / d02]
  #        = (1/3) [(-3, -4) - 0.5 (0, -0.5) / 0.5] = (1/3) (-3, -3.5).
  # dL/de1 = (1/3) (e1 - e0) = (1/3) (3, 4).
  # dL/de2 = (1/3) [-(1 - d02) (e2 - e0) / d02] = (1/3) (0, -0.5).
  gradient = jax.jit(jax.grad(contrastive_loss))(EMBEDDINGS, LABELS)
  np.testing.assert_allclose(
      gradient, np.array([[-3.0, -3.5], [3.0, 4.0], [0.0, -0.5]]) / 3,
      rtol=1e-5, atol=1e-6)


def test_contrastive_under_jit():
  loss = jax.jit(contrastive_loss, static_argnames="pairs")(
      EMBEDDINGS, LABELS, pairs="balanced")
  np.testing.assert_allclose(loss, 6.28125, rtol=1e-6)


def test_contrastive_invalid_arguments_raise():
  with pytest.raises(ValueError, match=r"Unknown pairs 'hard'.*'balanced'"):
    contrastive_loss(EMBEDDINGS, LABELS, pairs="hard")
  with pytest.raises(ValueError, match=r"margin must be positive, got 0"):
    contrastive_loss(EMBEDDINGS, LABELS, margin=0)
  with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
    contrastive_loss(EMBEDDINGS, LABELS[:2])
  with pytest.raises(TypeError, match=r"must be floating point"):
    contrastive_loss(np.ones((3, 2), np.int32), LABELS)


# Two 2-D features and two centres:
#   x0 = (1, 2) class 0 with c0 = (0, 0): squared distance 1 + 4 = 5.
#   x1 = (3, 4) class 1 with c1 = (3, 3): squared distance 0 + 1 = 1.
FEATURES = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
FEATURE_LABELS = np.array([0, 1])
CENTERS = np.array([[0.0, 0.0], [3.0, 3.0]], np.float32)


def test_center_loss_hand_computed():
  # 0.5 * mean(5, 1) = 1.5.
  loss = center_loss(FEATURES, FEATURE_LABELS, CENTERS)
  np.testing.assert_allclose(loss, 1.5, rtol=1e-6)


def test_center_loss_gradients():
  # d/dx_i of 0.5 * mean_i |x_i - c_i|^2 is (x_i - c_i) / 2:
  # ((1, 2) - (0, 0)) / 2 = (0.5, 1) and ((3, 4) - (3, 3)) / 2 = (0, 0.5).
  # The centres get no gradient.
  feature_gradient, center_gradient = jax.grad(center_loss, argnums=(0, 2))(
      FEATURES, FEATURE_LABELS, CENTERS)
  np.testing.assert_allclose(feature_gradient, [[0.5, 1.0], [0.0, 0.5]],
                             rtol=1e-6)
  np.testing.assert_array_equal(center_gradient, np.zeros_like(CENTERS))


def test_center_loss_mask_ignores_padding():
  # A padded third row far from every centre, with an out-of-range label.
  features = np.concatenate([FEATURES, [[100.0, 100.0]]]).astype(np.float32)
  labels = np.array([0, 1, -1])
  mask = np.array([True, True, False])

  loss = center_loss(features, labels, CENTERS, mask=mask)
  gradient = jax.grad(center_loss)(features, labels, CENTERS, mask=mask)

  np.testing.assert_allclose(loss, 1.5, rtol=1e-6)
  np.testing.assert_array_equal(gradient[2], [0.0, 0.0])
  assert center_loss(features, labels, CENTERS, mask=np.zeros(3, bool)) == 0


# Centres c0 = (0, 0), c1 = (10, 10), c2 = (5, 5); features (2, 0) and (4, 0)
# of class 0, (10, 13) of class 1; alpha = 0.5.
UPDATE_CENTERS = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]], np.float32)
UPDATE_FEATURES = np.array([[2.0, 0.0], [4.0, 0.0], [10.0, 13.0]], np.float32)
UPDATE_LABELS = np.array([0, 0, 1])
# Class 0: two examples, sum of (c0 - x) = (-2, 0) + (-4, 0) = (-6, 0),
#   delta = (-6, 0) / (1 + 2) = (-2, 0), c0 <- (0, 0) - 0.5 * (-2, 0) = (1, 0).
# Class 1: one example, delta = (0, -3) / (1 + 1) = (0, -1.5),
#   c1 <- (10, 10) - 0.5 * (0, -1.5) = (10, 10.75).
# Class 2: no example, c2 stays (5, 5).
UPDATED_CENTERS = np.array([[1.0, 0.0], [10.0, 10.75], [5.0, 5.0]])


def test_update_centers_hand_computed():
  new_centers = update_centers(UPDATE_CENTERS, UPDATE_FEATURES, UPDATE_LABELS,
                               alpha=0.5)
  np.testing.assert_allclose(new_centers, UPDATED_CENTERS, rtol=1e-6)
  assert new_centers.dtype == jnp.float32


def test_update_centers_ignores_excluded_rows():
  # Row 3 is masked and row 4 has a label outside [0, 3), so neither moves a
  # centre.
  features = np.concatenate(
      [UPDATE_FEATURES, [[100.0, 100.0], [-50.0, 7.0]]]).astype(np.float32)
  labels = np.array([0, 0, 1, 2, 3])
  mask = np.array([True, True, True, False, True])

  new_centers = update_centers(UPDATE_CENTERS, features, labels, 0.5,
                               mask=mask)

  np.testing.assert_allclose(new_centers, UPDATED_CENTERS, rtol=1e-6)


def test_update_centers_under_jit_with_traced_alpha():
  new_centers = jax.jit(update_centers)(
      UPDATE_CENTERS, UPDATE_FEATURES, UPDATE_LABELS, jnp.float32(0.5))
  np.testing.assert_allclose(new_centers, UPDATED_CENTERS, rtol=1e-6)


def test_center_functions_invalid_arguments_raise():
  with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
    update_centers(UPDATE_CENTERS, UPDATE_FEATURES, UPDATE_LABELS, 1.5)
  with pytest.raises(ValueError, match=r"same dimension.*\(3, 3\)"):
    center_loss(FEATURES, FEATURE_LABELS, np.zeros((3, 3), np.float32))
  with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
    center_loss(FEATURES, np.array([0]), CENTERS)
  with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
    update_centers(UPDATE_CENTERS, UPDATE_FEATURES, UPDATE_LABELS, 0.5,
                   mask=np.ones(2, bool))


# Runs the centre update, the center loss and the contrastive loss with the
# batch sharded over 8 fake CPU devices and saves the results.
SHARDED_LOSSES_SCRIPT = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    from isjax.losses.center import center_loss
    from isjax.losses.center import update_centers
    from isjax.losses.contrastive import contrastive_loss

    assert jax.device_count() == 8, jax.devices()
    inputs = np.load(sys.argv[1])
    mesh = jax.make_mesh((8,), ("data",))
    batch_sharding = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec("data"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    @jax.jit
    def step(centers, features, labels, mask):
      loss = center_loss(features, labels, centers, mask=mask)
      pair_loss = contrastive_loss(features, labels, mask=mask,
                                   pairs="balanced")
      return (loss, update_centers(centers, features, labels, 0.5, mask=mask),
              pair_loss)

    outputs = {}
    for name in ("integer", "random"):
      (outputs[name + "_loss"], outputs[name + "_centers"],
       outputs[name + "_contrastive"]) = step(
           jax.device_put(inputs["centers"], replicated),
           jax.device_put(inputs[name + "_features"], batch_sharding),
           jax.device_put(inputs["labels"], batch_sharding),
           jax.device_put(inputs["mask"], batch_sharding))
    np.savez(sys.argv[2], **outputs)
""")


def test_sharded_losses_match_single_device(tmp_path):
  # 32 examples of 5 classes, 4 per device, a few of them masked. With
  # integer features every centre sum is exact, so the centre update and the
  # center loss must be identical. Elsewhere only the order of float additions
  # may differ. The contrastive loss takes square roots, so it is compared
  # with a tolerance.
  rng = np.random.default_rng(1)
  centers = rng.integers(-5, 6, size=(5, 3)).astype(np.float32)
  labels = rng.integers(0, 5, size=32)
  mask = rng.random(32) > 0.2
  integer_features = rng.integers(-9, 10, size=(32, 3)).astype(np.float32)
  random_features = rng.normal(size=(32, 3)).astype(np.float32)
  np.savez(tmp_path / "inputs.npz", centers=centers, labels=labels, mask=mask,
           integer_features=integer_features, random_features=random_features)

  result = run_on_eight_devices(
      ["-c", SHARDED_LOSSES_SCRIPT, str(tmp_path / "inputs.npz"),
       str(tmp_path / "outputs.npz")])
  assert result.returncode == 0, result.stderr[-3000:]
  sharded = np.load(tmp_path / "outputs.npz")

  for name, features in (("integer", integer_features),
                         ("random", random_features)):
    loss = center_loss(features, labels, centers, mask=mask)
    new_centers = update_centers(centers, features, labels, 0.5, mask=mask)
    pair_loss = contrastive_loss(features, labels, mask=mask, pairs="balanced")
    np.testing.assert_allclose(sharded[name + "_contrastive"], pair_loss,
                               rtol=1e-6)
    if name == "integer":
      np.testing.assert_array_equal(sharded[name + "_centers"], new_centers)
      np.testing.assert_array_equal(sharded[name + "_loss"], loss)
    else:
      np.testing.assert_allclose(sharded[name + "_centers"], new_centers,
                                 rtol=1e-6, atol=1e-6)
      np.testing.assert_allclose(sharded[name + "_loss"], loss, rtol=1e-6)
