"""Edge cases found in review: each once gave a wrong answer or a raw error."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf import layers, optimizers
from yeehaw_tf.losses import MulticlassHinge, SoftmaxCrossEntropy, TripletLoss
from yeehaw_tf.optimizers import make_schedule, schedules


def _compiled_steps(optimizer, variable, grad, steps):
    @tf.function
    def step():
        optimizer.apply([grad], [variable])

    for _ in range(steps):
        step()


def test_adagrad_starts_from_its_accumulator_inside_tf_function():
    grad = tf.constant([1.0, 2.0, 3.0])
    ours, theirs = optimizers.AdaGrad(0.1), keras.optimizers.Adagrad(0.1)
    v_ours, v_theirs = (keras.Variable(np.ones(3, np.float32)) for _ in range(2))
    _compiled_steps(ours, v_ours, grad, 5)
    _compiled_steps(theirs, v_theirs, grad, 5)
    np.testing.assert_allclose(ours.accumulators[0].numpy(), [5.1, 20.1, 45.1], rtol=1e-6)
    np.testing.assert_allclose(v_ours.numpy(), v_theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "loss, reference",
    [
        (SoftmaxCrossEntropy(), keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        (MulticlassHinge(), None),
    ],
)
def test_labels_shaped_batch_by_1_are_labels(loss, reference):
    labels = np.array([0, 2, 1])
    logits = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    flat = float(loss(labels, logits))
    assert float(loss(labels[:, None], logits)) == pytest.approx(flat, rel=1e-6)
    if reference is not None:
        assert flat == pytest.approx(float(reference(labels, logits)), rel=1e-6)


def test_out_of_range_labels_and_wrong_target_width_are_errors():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in"):
        SoftmaxCrossEntropy()(np.array([0, 3]), logits)
    with pytest.raises(ValueError, match="y_true must be"):
        SoftmaxCrossEntropy()(np.zeros((2, 5), np.float32), logits)


def test_label_smoothing_on_probabilities_matches_keras():
    probs = keras.ops.softmax(np.random.default_rng(1).normal(size=(4, 3))).numpy()
    one_hot = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    ours = SoftmaxCrossEntropy(from_logits=False, label_smoothing=0.2)(one_hot, probs)
    theirs = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(one_hot, probs)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3], [5]])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
def test_triplet_loss_without_any_valid_triplet_is_zero_with_finite_gradients(labels, mining):
    e = tf.Variable(np.random.default_rng(0).normal(size=(len(labels), 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = TripletLoss(mining=mining)(np.array(labels), e)
    assert float(loss) == 0.0
    assert np.all(np.isfinite(tape.gradient(loss, e)))
    with pytest.raises(ValueError, match="embeddings"):
        TripletLoss()(np.array([0, 1]), np.zeros((2, 3, 1), np.float32))


def test_cosine_restarts_need_non_shrinking_periods_and_step_boundaries_are_absolute():
    with pytest.raises(ValueError, match="t_mul"):
        schedules.CosineDecay(0.1, 10, restarts=True, t_mul=0.5)
    lr = make_schedule("step", 1.0, 400, boundaries=(100, 200), warmup_steps=50)
    values = [float(lr(s)) for s in (49, 100, 101, 200, 201)]
    np.testing.assert_allclose(values, [0.98, 1.0, 0.1, 0.1, 0.01])
    with pytest.raises(ValueError, match="lr_boundaries must lie"):
        make_schedule("step", 1.0, 400, boundaries=(100, 500))
    with pytest.raises(ValueError, match="integers"):
        schedules.StepDecay([10.5], [1.0, 0.1])
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        schedules.LinearWarmup("abc", 3)


def test_adam_moves_bfloat16_variables():
    v = keras.Variable(np.full(3, 2.0), dtype="bfloat16")
    optimizer = optimizers.Adam(0.01)
    for _ in range(20):
        optimizer.apply([keras.ops.ones(3, dtype="bfloat16")], [v])
    assert float(keras.ops.max(v)) < 1.95


def test_weight_norm_builds_inside_tf_function_and_survives_a_zero_kernel():
    wrapped = layers.WeightNormalization(keras.layers.Dense(3, kernel_initializer="zeros"))
    out = tf.function(lambda x: wrapped(x))(tf.ones((2, 4)))
    assert np.all(np.isfinite(out.numpy()))
    with pytest.raises(ValueError, match="causal"):
        layers.WeightNormalization(keras.layers.Conv1D(2, 3, padding="causal"))


def test_normalization_shape_checks():
    with pytest.raises(ValueError, match="rank >= 3"):
        layers.InstanceNormalization()(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="axis 5 is out of range"):
        layers.BatchNormalization(axis=5)(np.zeros((2, 4), np.float32))


def test_layers_in_training_mode_agree_eagerly_and_compiled():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    eager, compiled = layers.BatchNormalization(), layers.BatchNormalization()
    a = eager(x, training=True)
    b = tf.function(lambda t: compiled(t, training=True))(x)  # built inside the graph
    np.testing.assert_allclose(b, a, atol=1e-5)
    np.testing.assert_allclose(compiled.moving_mean, eager.moving_mean, atol=1e-6)
    wrapped = layers.WeightNormalization(keras.layers.Dense(3))
    graph_out = tf.function(lambda t: wrapped(t))(x)  # built inside the graph
    np.testing.assert_allclose(graph_out, wrapped(x), atol=1e-6)


def test_resize_layer_matches_tf_image_resize_and_keeps_inference_mode(tmp_path):
    from tests.layer_checks import check_layer
    from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask

    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    expected = tf.image.resize(x, (13, 5), method="bilinear", antialias=False)
    np.testing.assert_allclose(layers.Resize(13, 5)(x), expected, atol=1e-4)
    check_layer(layers.Resize(13, 5), x, tmp_path)
    # keras.layers.Resizing made the layers after it run in training mode on model(x)
    task = ClassificationTask(
        ClassificationOptions(model="googlenet", image_size=(64, 64)),
        num_classes=4,
        input_shape=(32, 32, 3),
        mean=(0.0,) * 3,
        std=(1.0,) * 3,
    )
    model = task.build_model()
    images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(model(images), model(images))
