"""The masked autoencoder: shapes, the parameter formula, a gradient for every variable from
the masked-patch loss, an encoder that really sees only the visible patches, its shared
unmasked encoder, save/load in safe mode, builtin-only TFLite parity and the pictures."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_vit import vit_parameters
from yeehaw_tf.export import TFLiteModel, convert_saved_model
from yeehaw_tf.export.tflite import check_builtin_ops
from yeehaw_tf.losses.masked_autoencoder import masked_patch_mse
from yeehaw_tf.models.self_supervised.mae import (
    MAES,
    mae_encoder,
    masked_autoencoder,
    reconstruct_images,
)
from yeehaw_tf.ops.patches import patchify

SIZE, PATCH, COUNT = 16, 4, 16  # 4x4 = 16 patches of 4x4x3 = 48 pixels


def _mae(mask_ratio=0.75, **options):
    return masked_autoencoder(
        (SIZE, SIZE, 3),
        patch_size=PATCH,
        dim=16,
        depth=2,
        heads=2,
        decoder_dim=8,
        decoder_depth=1,
        decoder_heads=2,
        mask_ratio=mask_ratio,
        **options,
    )


def _inputs(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, SIZE, SIZE, 3)).astype(np.float32)
    return images, rng.uniform(size=(batch, COUNT)).astype(np.float32)


def _patch_slice(n):
    r, c = divmod(n, SIZE // PATCH)
    return slice(PATCH * r, PATCH * r + PATCH), slice(PATCH * c, PATCH * c + PATCH)


def _encoded_tokens(mae):
    """The encoder's output tokens (visible ones, in keep order) as a model of the MAE."""
    return keras.Model(mae.inputs, mae.get_layer("norm").output)


def test_outputs_and_shapes():
    mae = _mae()
    images, noise = _inputs(3)
    out = mae({"images": images, "noise": noise})
    assert set(out) == {"reconstruction", "mask"}
    assert out["reconstruction"].shape == (3, COUNT, PATCH * PATCH * 3)
    mask = np.asarray(out["mask"])
    np.testing.assert_array_equal(mask.sum(1), [12, 12, 12])  # 16 - int(16 * 0.25)
    np.testing.assert_array_equal(mask == 0, noise <= np.sort(noise, 1)[:, 3:4])
    assert _encoded_tokens(mae)({"images": images, "noise": noise}).shape == (3, 4, 16)


@pytest.mark.parametrize("name", sorted(MAES))
def test_variants_have_the_parameters_of_the_formula(name):
    spec = MAES[name]
    p, d, dd, c = spec["patch_size"], spec["dim"], spec["decoder_dim"], 3
    encoder = vit_parameters(p, c, d, spec["depth"], spec["mlp_ratio"], 0)  # no head
    hidden = int(round(dd * spec["mlp_ratio"]))
    block = 2 * (2 * dd) + (4 * dd * dd + 4 * dd) + (2 * dd * hidden + hidden + dd)
    decoder = (
        (d * dd + dd) + dd + spec["decoder_depth"] * block + 2 * dd + (dd * p * p * c + p * p * c)
    )
    mae = masked_autoencoder((32, 32, 3), **spec)
    assert mae.count_params() == encoder + decoder
    assert mae_encoder(mae).count_params() == encoder
    assert {"mae_tiny": 149_456, "mae_small": 879_920}[name] == encoder + decoder


def test_every_variable_gets_a_gradient_from_the_masked_loss():
    mae = _mae()
    images, noise = _inputs()
    with tf.GradientTape() as tape:
        out = mae({"images": images, "noise": noise}, training=True)
        loss = tf.reduce_mean(
            masked_patch_mse(patchify(images, PATCH), out["reconstruction"], out["mask"], True)
        )
    grads = tape.gradient(loss, mae.trainable_variables)
    for variable, grad in zip(mae.trainable_variables, grads, strict=True):
        assert grad is not None and np.any(np.asarray(grad) != 0), variable.path


def test_the_encoder_sees_only_the_visible_patches():
    mae = _mae()
    tokens = _encoded_tokens(mae)
    images, noise = _inputs(1, seed=1)
    out = mae({"images": images, "noise": noise})
    before = tokens({"images": images, "noise": noise})
    mask = np.asarray(out["mask"])[0]
    changed = images.copy()
    for n in np.flatnonzero(mask):  # every masked patch's pixels, the one predicted included
        rows, cols = _patch_slice(n)
        changed[0, rows, cols] += np.random.default_rng(n).normal(0, 5, (PATCH, PATCH, 3))
    again = mae({"images": changed, "noise": noise})
    np.testing.assert_array_equal(tokens({"images": changed, "noise": noise}), before)
    np.testing.assert_array_equal(again["reconstruction"], out["reconstruction"])
    # ...while a visible patch's pixels do change both
    rows, cols = _patch_slice(int(np.argmin(mask)))
    moved = images.copy()
    moved[0, rows, cols] += 1.0
    assert not np.allclose(tokens({"images": moved, "noise": noise}), before)
    assert not np.allclose(
        mae({"images": moved, "noise": noise})["reconstruction"], out["reconstruction"]
    )


def test_the_unmasked_encoder_shares_the_weights():
    mae = _mae(mask_ratio=0.0)
    encoder = mae_encoder(mae)
    for name in ("patch_embedding", "positions", "block1", "block2", "norm"):
        assert encoder.get_layer(name) is mae.get_layer(name)
    images, noise = _inputs(seed=2)
    # with nothing masked the MAE's encoder sees every patch (shuffled); attention with the
    # positions added first is permutation-equivariant, so the mean token is the same
    tokens = _encoded_tokens(mae)({"images": images, "noise": noise})
    np.testing.assert_allclose(encoder(images), np.mean(tokens, axis=1), atol=1e-5)
    mae.get_layer("block1").fc2.bias.assign(np.ones(16, np.float32))  # training the MAE ...
    np.testing.assert_allclose(  # ... moves the encoder
        encoder(images),
        np.mean(_encoded_tokens(mae)({"images": images, "noise": noise}), 1),
        atol=1e-5,
    )


def test_save_load_safe_mode_gives_identical_outputs(tmp_path):
    mae = _mae()
    images, noise = _inputs(seed=3)
    path = str(tmp_path / "mae.keras")
    mae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    a, b = mae({"images": images, "noise": noise}), loaded({"images": images, "noise": noise})
    for key in ("reconstruction", "mask"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(mae_encoder(loaded)(images), mae_encoder(mae)(images))


def _tflite(model, tmp_path) -> TFLiteModel:
    path = str(tmp_path / f"{model.name}_saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    tflite = TFLiteModel(convert_saved_model(path))  # TFLITE_BUILTINS only
    check_builtin_ops(tflite, model.name)
    return tflite


def test_tflite_builtin_ops_of_the_mae_and_its_encoder_match_keras(tmp_path):
    mae = _mae()
    images, noise = _inputs(3, seed=4)
    want = mae({"images": images, "noise": noise})
    tflite = _tflite(mae, tmp_path)
    assert {"TOPK_V2", "GATHER", "GELU", "BATCH_MATMUL"} <= set(tflite.op_names())
    got = tflite(images=images, noise=noise)
    np.testing.assert_array_equal(got["mask"], want["mask"])
    np.testing.assert_allclose(got["reconstruction"], want["reconstruction"], atol=1e-4)

    encoder = mae_encoder(mae)
    got = _tflite(encoder, tmp_path)(images=images)
    np.testing.assert_allclose(got["output_0"], encoder(images), atol=1e-4)


@pytest.mark.parametrize("normalized", [False, True])
def test_reconstructed_images_keep_the_visible_patches(normalized):
    mae = _mae()
    images, noise = _inputs(seed=5)
    pictures = np.asarray(reconstruct_images(mae, images, noise, normalized_targets=normalized))
    out = mae({"images": images, "noise": noise})
    mask, predicted = np.asarray(out["mask"]), np.asarray(out["reconstruction"], np.float64)
    target = np.asarray(patchify(images, PATCH), np.float64)
    if normalized:
        mean, std = target.mean(-1, keepdims=True), np.sqrt(target.var(-1, keepdims=True) + 1e-6)
        predicted = predicted * std + mean
    assert pictures.shape == images.shape
    for b in range(2):
        for n in range(COUNT):
            rows, cols = _patch_slice(n)
            want = predicted[b, n] if mask[b, n] else images[b, rows, cols].ravel()
            np.testing.assert_allclose(pictures[b, rows, cols].ravel(), want, atol=1e-4)


def test_runs_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    mae = _mae()
    images, noise = _inputs(seed=6)
    out = mae({"images": images, "noise": noise})
    assert out["reconstruction"].dtype == "float32" and out["mask"].dtype == "float32"
    assert np.all(np.isfinite(out["reconstruction"]))
    np.testing.assert_array_equal(np.asarray(out["mask"]).sum(1), [12, 12])


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="mask_ratio"):
        _mae(mask_ratio=1.0)
    with pytest.raises(ValueError, match="decoder_dim=10"):
        masked_autoencoder((16, 16, 3), decoder_dim=10, decoder_heads=2)
    with pytest.raises(ValueError, match="decoder_depth"):
        masked_autoencoder((16, 16, 3), decoder_depth=0)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        masked_autoencoder((18, 18, 3), patch_size=4)
    with pytest.raises(ValueError, match="input named 'images'"):
        mae_encoder(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
