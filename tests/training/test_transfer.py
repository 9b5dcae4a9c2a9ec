"""Transfer learning: --init_from loads a pre-trained network (workdir or .keras) under a new
head, --freeze holds layers still (batch norm in inference mode), --unfreeze_step releases them
at a lower learning rate; incompatible sources and freeze counts are refused by name."""

from __future__ import annotations

import os

import numpy as np
import pytest

from yeehaw_tf.optimizers.schedules import CosineDecay, FineTuneScale
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.runs import load_model, load_run
from yeehaw_tf.training.tasks.transfer import HEAD, network_of, weighted_layers

QUICK = {"export": False, "steps_per_loop": 3, "batch_size": 10}
TARGET = {"classes": (5, 6, 7, 8, 9), "train_examples_per_class": 4}


@pytest.fixture(scope="module")
def source(tmp_path_factory, data_dir) -> str:
    """A small_resnet (batch norm inside) trained on digits 0-4."""
    workdir = str(tmp_path_factory.mktemp("transfer") / "source")
    config = make_config(
        workdir=workdir, data_dir=data_dir, classes=(0, 1, 2, 3, 4), train_steps=12, **QUICK
    )
    run_experiment(config, verbose=0)
    return workdir


def _layers(model) -> dict[str, list[np.ndarray]]:
    return {
        layer.name: [np.asarray(w) for w in layer.get_weights()]
        for layer in weighted_layers(network_of(model))
    }


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _run(workdir, data_dir, steps, checkpoint_every=None, **options):
    config = make_config(
        workdir=workdir,
        data_dir=data_dir,
        train_steps=steps,
        checkpoint_every=checkpoint_every or steps,
        **QUICK,
        **TARGET,
        **options,
    )
    return run_experiment(config, verbose=0)


def test_frozen_backbone_keeps_every_pretrained_weight_and_batch_norm_statistic(
    source, data_dir, tmp_path
):
    pretrained = _layers(load_model(source))
    workdir = str(tmp_path / "frozen")
    _run(workdir, data_dir, 6, init_from=source, freeze="backbone")
    run = load_run(workdir)
    trained = _layers(run.model)
    assert set(trained) == set(pretrained)
    for name, weights in trained.items():
        if name != HEAD:  # moving means and variances included: inference mode
            assert _same(weights, pretrained[name]), name
    assert trained[HEAD][0].shape == (128, 5)  # the new head, for the 5 new classes
    # inputs are prepared as the pre-trained network saw them
    assert run.task.mean == load_run(source).task.mean


def test_fine_tuning_from_a_keras_file_changes_the_backbone(source, data_dir, tmp_path):
    path = str(tmp_path / "source.keras")
    load_model(source).save(path)
    workdir = str(tmp_path / "fine_tuned")
    _run(workdir, data_dir, 3, init_from=path)
    pretrained, trained = _layers(load_model(path)), _layers(load_run(workdir).model)
    changed = [n for n in trained if n != HEAD and not _same(trained[n], pretrained[n])]
    assert len(changed) == len(trained) - 1  # every layer trains with --freeze=none


def test_two_phases_hold_the_backbone_until_unfreeze_step_then_fine_tune_it(
    source, data_dir, tmp_path
):
    pretrained = _layers(load_model(source))
    workdir = str(tmp_path / "two_phase")
    _run(
        workdir,
        data_dir,
        6,
        checkpoint_every=3,
        init_from=source,
        freeze="backbone",
        unfreeze_step=3,
    )
    directory = os.path.join(workdir, "checkpoints")
    head_phase = _layers(load_run(workdir, os.path.join(directory, "ckpt-3")).model)
    fine_tuned = _layers(load_run(workdir, os.path.join(directory, "ckpt-6")).model)
    for name, weights in head_phase.items():
        if name != HEAD:
            assert _same(weights, pretrained[name]), name  # steps 0..2: held still
    assert not _same(head_phase[HEAD], fine_tuned[HEAD])
    convs = [n for n in fine_tuned if n.endswith("_conv")]
    assert convs and all(not _same(fine_tuned[n], pretrained[n]) for n in convs)
    bns = [n for n in fine_tuned if n.endswith("_bn")]
    assert bns and all(_same(fine_tuned[n], pretrained[n]) for n in bns)  # still inference


def test_fine_tune_scale_lowers_the_rate_from_its_boundary():
    base = CosineDecay(0.1, decay_steps=100)
    schedule = FineTuneScale(base, boundary=30, factor=0.1)
    for step in (0, 29):
        np.testing.assert_allclose(float(schedule(step)), float(base(step)), rtol=1e-6)
    for step in (30, 70):
        np.testing.assert_allclose(float(schedule(step)), 0.1 * float(base(step)), rtol=1e-6)
    clone = FineTuneScale.from_config(schedule.get_config())
    np.testing.assert_allclose(float(clone(50)), float(schedule(50)), rtol=1e-6)
    assert float(FineTuneScale(0.5, 10, 0.2)(12)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="factor must be > 0"):
        FineTuneScale(0.5, 10, 0.0)


def test_an_incompatible_source_is_refused_naming_the_layers(source, data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--init_from .*does not fit model 'mlp'.*not in it: fc1"):
        _run(str(tmp_path / "w"), data_dir, 2, init_from=source, model="mlp")
    with pytest.raises(ValueError, match="--init_from: .* is neither a workdir nor a .keras"):
        _run(str(tmp_path / "w"), data_dir, 2, init_from=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="prepares inputs with channel_standardize, not "):
        _run(str(tmp_path / "w"), data_dir, 2, init_from=source, preprocessing="mean_image")


def test_freezing_more_layers_than_the_model_has_is_refused(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--freeze=all_but_last_3: the model 'mlp' has only 3"):
        _run(str(tmp_path / "w"), data_dir, 2, model="mlp", freeze="all_but_last_3")
    with pytest.raises(ValueError, match="unfreeze_step needs --freeze"):
        make_config(workdir="w", unfreeze_step=5)
    with pytest.raises(ValueError, match="fine_tune_lr_factor must be in"):
        make_config(workdir="w", freeze="backbone", fine_tune_lr_factor=2.0)


def _perturbed(model, seed=0):
    """Random weights with non-trivial batch-norm statistics (fresh ones make outputs tiny)."""
    rng = np.random.default_rng(seed)
    for layer in weighted_layers(model):
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if "variance" in w.path:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "gamma" in w.path:
                values.append(rng.uniform(0.8, 1.2, shape))
            elif len(shape) > 1:
                values.append(rng.normal(size=shape) / np.sqrt(np.prod(shape[:-1])))
            else:
                values.append(rng.normal(0.0, 0.1, shape))
        layer.set_weights([v.astype(np.float32) for v in values])
    return model


def test_keras_applications_weights_load_in_order_and_compute_keras_function():
    """What --init_from=keras.applications.MobileNetV2 does, with random weights instead of the
    downloaded ImageNet ones: after loading (and copying the classifier too) our mobilenet_v2
    computes keras.applications.MobileNetV2's function."""
    import keras

    from yeehaw_tf.models import build
    from yeehaw_tf.training.tasks.transfer import load_pretrained, weights_in_order

    shape = (64, 64, 3)
    theirs = _perturbed(
        keras.applications.MobileNetV2(weights=None, input_shape=shape, classifier_activation=None)
    )
    ours = build("mobilenet_v2", 1000, shape)
    load_pretrained(ours, weights_in_order(theirs), "keras.applications.MobileNetV2")
    ours.get_layer(HEAD).set_weights(weighted_layers(theirs)[-1].get_weights())
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))  # logits
    logits = keras.ops.convert_to_numpy(ours(x, training=False))
    assert expected.std() > 0.1  # logits that differ: the comparison means something
    # float32 round-off through 52 layers; a wrong mapping differs by O(1)
    np.testing.assert_allclose(logits, expected, atol=1e-3 * np.abs(expected).max())


def test_keras_applications_that_do_not_fit_are_refused_naming_the_layer():
    from yeehaw_tf.models import build
    from yeehaw_tf.training.tasks.transfer import application_weights, load_pretrained

    weights, _ = application_weights("ResNet50", weights=None, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"layer 0 does not fit 'stem_conv'.*differ"):
        load_pretrained(build("resnet50", 10, (64, 64, 3)), weights, "keras.applications.ResNet50")
    with pytest.raises(ValueError, match="keras.applications has no 'NoSuchNet'"):
        application_weights("NoSuchNet", weights=None)
