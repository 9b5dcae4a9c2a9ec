import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.layers import StackOutputs
from yeehaw_tf.losses import AuxiliaryLoss, SoftmaxCrossEntropy
from yeehaw_tf.metrics import MainOutputAccuracy
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_auxiliary_loss_is_main_plus_weighted_side_losses():
    rng = np.random.default_rng(0)
    heads = rng.normal(size=(4, 3, 5)).astype(np.float32)
    labels = np.array([0, 4, 2, 1])
    nll = [-_log_softmax(heads[:, k].astype(np.float64))[np.arange(4), labels] for k in range(3)]
    expected = np.mean(nll[0] + 0.3 * (nll[1] + nll[2]))
    ours = AuxiliaryLoss(SoftmaxCrossEntropy(), 0.3)(labels, heads)
    assert float(ours) == pytest.approx(expected, rel=1e-5)
    clone = keras.losses.deserialize(keras.losses.serialize(AuxiliaryLoss(SoftmaxCrossEntropy())))
    assert float(clone(labels, heads)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="stacked heads"):
        AuxiliaryLoss(SoftmaxCrossEntropy())(labels, heads[:, 0])


def test_main_output_accuracy_reads_the_first_head():
    heads = np.zeros((2, 2, 3), np.float32)
    heads[:, 0, 1] = 1.0  # main head says class 1
    heads[:, 1, 2] = 5.0  # the auxiliary head disagrees
    metric = MainOutputAccuracy()
    metric.update_state(np.array([1, 1]), heads)
    assert float(metric.result()) == 1.0


def test_stack_outputs_contract(tmp_path):
    layer = StackOutputs()
    a, b = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    out = layer([a, b])
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[:, 0], a)
    assert layer.compute_output_shape([(2, 3), (2, 3)]) == (2, 2, 3)


def test_googlenet_trains_its_auxiliary_heads_and_exports_without_them(tmp_path):
    task = ClassificationTask(
        ClassificationOptions(model="googlenet", image_size=(64, 64), aux_logits=True),
        num_classes=4,
        input_shape=(32, 32, 3),
        mean=(0.0,) * 3,
        std=(1.0,) * 3,
    )
    trainer = Trainer(
        task, build_optimizer=lambda: keras.optimizers.SGD(0.01), workdir=str(tmp_path)
    )
    assert trainer.model.output.shape == (None, 3, 4)  # main + two auxiliary heads
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors(
        (rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32), rng.integers(0, 4, 8))
    ).repeat()
    aux_kernel = trainer.model.get_layer("googlenet").get_layer("aux1_fc1").kernel
    before = aux_kernel.numpy().copy()
    trainer.train(data, 2, verbose=0)
    assert not np.allclose(aux_kernel.numpy(), before)  # the auxiliary loss reached it
    inference = task.inference_model(trainer.model)
    assert task.inference_model(trainer.models).output.shape == (None, 4)
    assert inference.output.shape == (None, 4)
    x = next(iter(data))[0]
    np.testing.assert_allclose(inference(x), trainer.model(x)[:, 0], atol=1e-5)
    # the same maths under Keras fit: one loss on the stacked heads
    fitted = Trainer(
        task, build_optimizer=lambda: keras.optimizers.SGD(0.01), workdir=str(tmp_path / "fit")
    )
    kernel = fitted.model.get_layer("googlenet").get_layer("aux2_fc1").kernel
    before = kernel.numpy().copy()
    history = fitted.fit(data, 1, verbose=0)
    assert np.isfinite(history["loss"]) and 0.0 <= history["accuracy"] <= 1.0
    assert not np.allclose(kernel.numpy(), before)
    with pytest.raises(ValueError, match="does not offer the aux_logits"):
        ClassificationOptions(model="resnet18", aux_logits=True)
