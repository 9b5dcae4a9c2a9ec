"""Bad inputs, one group per row of the "Bad input, written down" table (docs/training.md),
and what each one does.

Every case must fail with an error that names the problem (which argument or file, and what was
expected), up front where a check can be made up front (from the command line: a non-zero exit,
a message on stderr, no Python traceback), and must leave what was saved before -- checkpoints,
exports, ``config.json`` -- byte-identical (every file is hashed before and after).

Covered elsewhere, not repeated here:

- SavedModel signature on wrong ``tf.Tensor`` dtypes and shapes:
  ``tests/export/test_probabilities_export.py::test_serving_signature_rejects_wrong_shape_and_dtype``;
- NaN batches under ``on_nan=skip_step`` and under ``fit``:
  ``tests/training/test_trainer.py::test_skip_step_leaves_the_weights_and_counts_the_skip``,
  ``::test_fit_stops_on_non_finite_values_before_saving``;
- labels out of range in the losses and metrics themselves:
  ``tests/losses/test_segmentation_loss.py::test_bad_inputs_are_refused``,
  ``tests/metrics/test_segmentation_metrics.py::test_bad_arguments_and_labels_are_refused``;
- invalid flag values and combinations: ``tests/cli/test_train_cli.py::
  test_bad_flags_fail_before_training_with_a_clear_message``,
  ``tests/training/test_config.py::test_bad_values_are_named``;
- a batch larger than the split (the ``TrainConfig`` arithmetic):
  ``tests/training/test_config.py::test_a_batch_larger_than_the_data_is_refused``;
- another run's checkpoint given to ``python -m export``: ``tests/cli/test_train_cli.py::
  test_export_with_another_runs_checkpoint_fails_cleanly``; a damaged newest checkpoint:
  ``tests/training/test_crash_resume.py::
  test_a_damaged_newest_checkpoint_is_reported_and_the_previous_one_resumed``;
- every registered model and layer loads with ``safe_mode=True``:
  ``tests/models/test_registry.py::test_every_model_trains_one_step_and_round_trips`` and
  ``tests/layer_checks.py``.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO, run_cli
from yeehaw_tf.export import ServingModel, TFLiteModel, export_probabilities
from yeehaw_tf.models.classification.small_resnet import small_resnet
from yeehaw_tf.training import TrainConfig, Trainer, export_workdir, run_experiment
from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask
from yeehaw_tf.training.tasks import classification as classification_module
from yeehaw_tf.training.trainer import CheckpointError, NonFiniteError

# The smallest run that still writes everything: checkpoints, config.json, SavedModel, TFLite.
RUN = {
    "train_steps": 2,
    "batch_size": 16,
    "checkpoint_every": 2,
    "steps_per_loop": 2,
    "formats": ("saved_model", "tflite"),
    "quantize": ("float32",),
}


def _hashes(root) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by path relative to it."""
    digests = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def _assert_intact(before: dict[str, str], root, new_files_under: str | None = None) -> None:
    """Every file hashed in ``before`` is still there, byte-identical, and nothing was added
    (except, if given, under ``new_files_under``)."""
    after = _hashes(root)
    changed = sorted(path for path, digest in before.items() if after.get(path) != digest)
    assert not changed, f"changed or removed under {root}: {changed}"
    added = sorted(set(after) - set(before))
    if new_files_under is not None:
        added = [path for path in added if not path.startswith(new_files_under)]
    assert not added, f"new files under {root}: {added}"


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir) -> TrainConfig:
    """A finished two-step run on digits, exported, in a workdir whose parents did not exist."""
    workdir = tmp_path_factory.mktemp("bad_inputs") / "not" / "yet" / "there"
    config = TrainConfig(workdir=str(workdir), data_dir=data_dir, **RUN)
    run_experiment(config, verbose=0)
    return config


# ------------------------------------------------------------------ wrong inputs to the exports


@pytest.mark.parametrize(
    "images",
    [
        np.full((2, 8, 8, 1), 0.5, np.float32),
        np.full((2, 8, 8, 1), 300, np.int32),
        np.full((2, 8, 8, 1), -1, np.int64),
    ],
    ids=["float_pixels", "int_above_255", "negative_int"],
)
def test_saved_model_refuses_numpy_images_of_another_dtype(run, images):
    """The raw signature casts NumPy arrays to uint8 before the graph runs (TensorFlow's
    conversion, documented in docs/export.md); yeehaw_tf.export.ServingModel checks first."""
    export_dir = os.path.join(run.workdir, "export")
    before = _hashes(export_dir)
    path = os.path.join(export_dir, "saved_model")
    with pytest.raises(ValueError, match=r"input 'images' must be uint8 \[\?, 8, 8, 1\], got"):
        ServingModel(path)(images=images)
    with pytest.raises(
        ValueError, match=r"must be uint8 \[\?, 8, 8, 1\], got uint8 \[2, 9, 8, 1\]"
    ):
        ServingModel(path)(images=np.zeros((2, 9, 8, 1), np.uint8))
    raw = tf.saved_model.load(path).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError):
        raw(images=tf.constant(images))  # a tf.Tensor of another dtype fails in the signature
    _assert_intact(before, export_dir)


def _tflite(run) -> TFLiteModel:
    with open(os.path.join(run.workdir, "export", "model_float32.tflite"), "rb") as f:
        return TFLiteModel(f.read())


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_tflite_refuses_images_of_another_dtype(run, dtype):
    export_dir = os.path.join(run.workdir, "export")
    before = _hashes(export_dir)
    model = _tflite(run)
    assert model(images=np.zeros((2, 8, 8, 1), np.uint8))["probabilities"].shape == (2, 10)
    with pytest.raises(ValueError, match=r"input 'images' must be uint8 \[\?, 8, 8, 1\], got"):
        model(images=np.zeros((2, 8, 8, 1), dtype))
    _assert_intact(before, export_dir)


@pytest.mark.parametrize(
    "shape",
    [(2, 9, 8, 1), (2, 16, 16, 1), (8, 8, 1), (1, 8, 8, 3)],
    ids=["height", "size", "no_batch_axis", "channels"],
)
def test_tflite_refuses_images_of_another_shape(run, shape):
    export_dir = os.path.join(run.workdir, "export")
    before = _hashes(export_dir)
    with pytest.raises(ValueError, match=r"images.*8\D+8\D+1"):
        _tflite(run)(images=np.zeros(shape, np.uint8))
    _assert_intact(before, export_dir)


# ------------------------------------------------------------------ the training data


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, n)
    images = rng.normal(size=(n, 8, 8, 1)).astype(np.float32) + labels[:, None, None, None]
    return images, labels


def _batches(images, labels, batch_size: int = 16) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset.batch(batch_size, drop_remainder=True).repeat()


def _trainer(workdir) -> Trainer:
    """The run's loss and metric (SoftmaxCrossEntropy, accuracy) on a narrow small_resnet."""
    task = ClassificationTask(
        ClassificationOptions(), num_classes=3, input_shape=(8, 8, 1), mean=(0.0,), std=(1.0,)
    )
    return Trainer(
        build_model=lambda: small_resnet(3, (8, 8, 1), widths=(8, 16)),
        loss=task.loss(),
        build_metrics=task.metrics,
        build_optimizer=lambda: keras.optimizers.SGD(0.05),
        workdir=str(workdir),
        checkpoint_every=2,
        steps_per_loop=2,
    )


@pytest.fixture
def trained(tmp_path):
    """A Trainer two steps in, with ``ckpt-2`` on disk, and the clean data it trained on."""
    trainer = _trainer(tmp_path)
    images, labels = _data()
    trainer.train(_batches(images, labels), 2, verbose=0)
    return trainer, images, labels, str(tmp_path / "checkpoints")


def test_non_finite_pixels_stop_training_naming_the_step_and_keep_the_checkpoint(trained):
    trainer, images, labels, checkpoints = trained
    before = _hashes(checkpoints)
    weights = [np.array(w) for w in trainer.model.weights]
    for value in (np.nan, np.inf, -np.inf):
        poisoned = images.copy()
        poisoned[2 * 16 + 5, 3, 4, 0] = value  # one pixel of batch 2: step 3
        with pytest.raises(NonFiniteError, match=r"step 3\b.*NaN or infinite") as raised:
            trainer.train(_batches(poisoned, labels), 4, verbose=0)
        assert "ckpt-2" in str(raised.value) and "on_nan" in str(raised.value)
        assert int(trainer.step.numpy()) == 2  # the step was refused, not counted
        for old, new in zip(weights, trainer.model.weights, strict=True):
            np.testing.assert_array_equal(old, np.array(new))
    _assert_intact(before, checkpoints)


def test_labels_out_of_range_stop_training_naming_the_valid_range(trained):
    trainer, images, labels, checkpoints = trained
    before = _hashes(checkpoints)
    for bad in (3, -1):
        wrong = labels.copy()
        wrong[2 * 16 + 5] = bad
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 3\)"):
            trainer.train(_batches(images, wrong), 4, verbose=0)
        assert int(trainer.step.numpy()) == 2
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 3\)"):
            trainer.evaluate(tf.data.Dataset.from_tensor_slices((images, wrong)).batch(16))
    _assert_intact(before, checkpoints)


def test_export_refuses_labels_out_of_range(tmp_path):
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    images = np.zeros((4, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r"labels .*\[0, 10\)"):
        export_probabilities(
            model,
            str(tmp_path / "export"),
            images=images,
            labels=np.array([0, 1, 10, -1]),
            representative_images=images,
            formats=("saved_model",),
        )
    assert not os.path.exists(tmp_path / "export")


def _empty(known_size: bool) -> tf.data.Dataset:
    images, labels = _data(8)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.take(0) if known_size else dataset.filter(lambda image, label: label > 5)
    return dataset.repeat().batch(4, drop_remainder=True)


@pytest.mark.parametrize(
    "known_size",
    [
        pytest.param(
            True,
            id="known_size",
        ),
        pytest.param(
            False,
            id="unknown_size",
        ),
    ],
)
def test_an_empty_training_dataset_is_refused_as_empty(tmp_path, known_size):
    trainer = _trainer(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        trainer.train(_empty(known_size), 3, verbose=0)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")) is None


def test_an_empty_evaluation_dataset_is_refused(tmp_path):
    trainer = _trainer(tmp_path)
    images, labels = _data(8)
    empty = tf.data.Dataset.from_tensor_slices((images, labels)).take(0).batch(4)
    with pytest.raises(ValueError, match="empty"):
        trainer.evaluate(empty)


def test_a_batch_larger_than_the_training_split_is_refused_before_anything_is_written(run):
    before = _hashes(run.workdir)
    config = dataclasses.replace(
        run, batch_size=2048, train_steps=None, options=dataclasses.replace(run.options, epochs=1)
    )
    with pytest.raises(ValueError, match=r"batch_size 2048 is larger than the training split"):
        run_experiment(config, verbose=0)
    _assert_intact(before, run.workdir)


def test_a_batch_larger_than_the_training_split_is_refused_with_train_steps_too(run, tmp_path):
    workdir = tmp_path / "big_batch"
    config = dataclasses.replace(
        run, workdir=str(workdir), batch_size=2048, train_steps=1, steps_per_loop=1, export=False
    )
    with pytest.raises(ValueError, match=r"batch_size 2048 is larger than the training split"):
        run_experiment(config, verbose=0)
    assert not os.path.exists(workdir / "checkpoints")


@pytest.mark.parametrize("split", ["train", "test"])
def test_an_empty_split_is_refused_naming_the_dataset_and_split(run, monkeypatch, split):
    load = classification_module.load_classification

    def load_with_an_empty_split(name, data_dir=None):
        data = load(name, data_dir)
        return dataclasses.replace(data, **{split: getattr(data, split).take(0), f"num_{split}": 0})

    monkeypatch.setattr(classification_module, "load_classification", load_with_an_empty_split)
    before = _hashes(run.workdir)
    with pytest.raises(ValueError) as raised:
        run_experiment(run, verbose=0)
    message = str(raised.value)
    assert "digits" in message and split in message and "empty" in message
    _assert_intact(before, run.workdir)


@pytest.mark.parametrize("damage", ["truncated", "bytes_flipped"])
def test_a_corrupt_dataset_file_is_named_with_how_to_regenerate_it(run, tmp_path, damage):
    data_dir = tmp_path / "tensorflow_datasets"
    shutil.copytree(os.path.join(run.data_dir, "digits"), data_dir / "digits")
    (record,) = glob.glob(str(data_dir / "digits" / "*" / "digits-train.tfrecord*"))
    size = os.path.getsize(record)
    with open(record, "r+b") as f:
        if damage == "truncated":
            f.truncate(size // 2)
        else:
            f.seek(size // 2)
            chunk = f.read(64)
            f.seek(size // 2)
            f.write(bytes(b ^ 0xFF for b in chunk))
    before = _hashes(run.workdir)
    with pytest.raises(ValueError) as raised:  # data_dir only says where: the same run
        run_experiment(dataclasses.replace(run, data_dir=str(data_dir)), verbose=0)
    message = str(raised.value)
    assert "digits" in message and "delete" in message.lower()
    _assert_intact(before, run.workdir)


# ------------------------------------------------------------------ flags and their combinations


def test_a_model_too_large_for_the_images_is_refused_naming_the_minimum_size(run, tmp_path):
    config = dataclasses.replace(
        run,
        workdir=str(tmp_path / "alexnet"),
        options=dataclasses.replace(run.options, model="alexnet"),
    )
    with pytest.raises(ValueError, match=r"\(8, 8, 1\) is too small: .* at least 63"):
        run_experiment(config, verbose=0)
    assert not os.path.exists(tmp_path / "alexnet" / "checkpoints")


def test_jit_compile_with_two_replicas_is_refused_before_config_json_is_rewritten(run):
    before = _hashes(run.workdir)
    record = os.path.join(run.workdir, "config.json")
    with open(record, "rb") as f:
        saved = f.read()
    try:
        with pytest.raises(ValueError, match="jit_compile"):
            config = dataclasses.replace(run, jit_compile=True, num_cpu_devices=2)
            run_experiment(config, verbose=0)
        _assert_intact(before, run.workdir)
    finally:  # the other tests share this workdir
        with open(record, "wb") as f:
            f.write(saved)


@pytest.mark.parametrize(
    "options",
    [{"formats": ()}, {"formats": ("tflite",), "quantize": ()}],
    ids=["no_formats", "tflite_without_quantize"],
)
def test_an_empty_export_list_is_refused_up_front(options):
    name = "quantize" if "quantize" in options else "formats"
    with pytest.raises(ValueError, match=name):
        TrainConfig(workdir="w", **options)


def test_list_flags_that_are_not_integers_are_named(tmp_path):
    result = run_cli("train.py", "--image_size=32,x", f"--workdir={tmp_path / 'w'}")
    assert result.returncode != 0
    assert "train.py: error: --image_size takes integers, got 32,x" in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "w")


# ------------------------------------------------------------------ the workdir


def test_a_missing_workdir_is_created_with_its_parents(run):
    workdir = run.workdir
    assert os.path.isfile(os.path.join(workdir, "config.json"))
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-2")
    assert sorted(os.listdir(os.path.join(workdir, "export"))) == [
        "metadata.json",
        "model_float32.tflite",
        "report.json",
        "saved_model",
    ]


def _can_create(path: str) -> bool:
    try:
        with open(path, "x"):
            pass
    except PermissionError:
        return False
    os.remove(path)
    return True


def _as_unprivileged(directory: str) -> list[str]:
    """A command prefix under which ``directory``'s permission bits apply: none when they
    already do; as root, ``setpriv`` without CAP_DAC_OVERRIDE; else the test is skipped."""
    probe = os.path.join(directory, ".probe")
    if not _can_create(probe):
        return []
    setpriv = shutil.which("setpriv")
    if setpriv:
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
        works = subprocess.run([*prefix, "true"], capture_output=True, check=False)
        subprocess.run([*prefix, "touch", probe], capture_output=True, check=False)
        if works.returncode == 0 and not os.path.exists(probe):
            return prefix
        if os.path.exists(probe):
            os.remove(probe)
    pytest.skip("running as root: chmod does not stop writes and setpriv cannot drop the override")


def _train_cli(prefix: list[str], workdir, data_dir) -> subprocess.CompletedProcess:
    args = ["train.py", f"--workdir={workdir}", f"--data_dir={data_dir}", "--train_steps=2"]
    return subprocess.run(
        [*prefix, sys.executable, *args, "--batch_size=16", "--noexport"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=False,
    )


@pytest.mark.parametrize("kind", ["read_only", "a_file"])
def test_an_unwritable_workdir_is_refused_up_front_naming_it(tmp_path, data_dir, kind):
    workdir = tmp_path / "workdir"
    if kind == "a_file":
        workdir.write_text("not a directory\n")
        before, root, prefix = _hashes(tmp_path), tmp_path, []
    else:
        workdir.mkdir()
        (workdir / "notes.txt").write_text("saved before\n")
        before, root = _hashes(workdir), workdir
        workdir.chmod(0o555)
    try:
        if kind == "read_only":
            prefix = _as_unprivileged(str(workdir))
        result = _train_cli(prefix, workdir, data_dir)
    finally:
        if kind == "read_only":
            workdir.chmod(0o755)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert str(workdir) in result.stderr
    _assert_intact(before, root)


# ------------------------------------------------------------------ checkpoints of another model


def test_a_different_model_in_the_same_workdir_is_refused(run):
    before = _hashes(run.workdir)
    with pytest.raises(ValueError, match=r"holds a different run \(model: 'small_resnet' -> "):
        lenet = dataclasses.replace(run.options, model="lenet5")
        run_experiment(dataclasses.replace(run, options=lenet), verbose=0)
    _assert_intact(before, run.workdir)


def test_a_record_from_before_task_warmups_resumes_and_another_warmup_is_refused(run):
    """Records written before ``--warmup_steps`` defaulted to the task's said 0 for "none": the
    same run re-run resumes; a record of a different warm-up is a different run."""
    from yeehaw_tf.training.experiment import _check_workdir
    from yeehaw_tf.training.runs import CONFIG_FILE

    path = os.path.join(run.workdir, CONFIG_FILE)
    with open(path) as f:
        original = f.read()
    record = json.loads(original)
    total = record["total_steps"]
    try:
        for recorded, refused in ((0, False), (None, False), (5, True)):
            record["train"]["warmup_steps"] = recorded
            with open(path, "w") as f:
                json.dump(record, f)
            if refused:
                with pytest.raises(ValueError, match=r"different run \(warmup_steps: 5 -> 0\)"):
                    _check_workdir(run.workdir, run, total)
            else:
                _check_workdir(run.workdir, run, total)
    finally:
        with open(path, "w") as f:
            f.write(original)


def _foreign_checkpoint(directory) -> str:
    """A checkpoint of another architecture (one dense layer, where the run's is), in
    ``directory``."""
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(models={"model": model}, step=tf.Variable(2, dtype=tf.int64)),
        str(directory),
        max_to_keep=3,
    )
    return manager.save(checkpoint_number=2)


def _refuse_foreign_export(run, tmp_path) -> str:
    checkpoint = _foreign_checkpoint(tmp_path / "other")
    before = _hashes(run.workdir)
    with pytest.raises(ValueError, match="does not fit the model described by") as raised:
        export_workdir(run.workdir, checkpoint=checkpoint, formats=("saved_model",))
    _assert_intact(before, run.workdir)
    return str(raised.value)


def test_exporting_another_architectures_checkpoint_is_refused_and_keeps_the_export(run, tmp_path):
    message = _refuse_foreign_export(run, tmp_path)
    assert os.path.join(run.workdir, "config.json") in message


def test_the_checkpoint_mismatch_is_summarised_not_dumped(run, tmp_path):
    message = _refuse_foreign_export(run, tmp_path)
    assert "value=" not in message and len(message) < 2000


def test_another_architectures_checkpoints_in_the_workdir_are_refused_and_kept(run, tmp_path):
    workdir = tmp_path / "run"
    _foreign_checkpoint(workdir / "checkpoints")
    before = _hashes(workdir / "checkpoints")
    config = dataclasses.replace(run, workdir=str(workdir), export=False)
    with pytest.raises(CheckpointError, match="could be restored into this model"):
        run_experiment(config, verbose=0)
    _assert_intact(before, workdir / "checkpoints")


# ------------------------------------------------------------------ unsafe .keras files


def test_a_keras_file_with_a_lambda_layer_is_refused_in_safe_mode(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: 2 * x)(inputs))
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    before = _hashes(tmp_path)
    with pytest.raises(ValueError, match=r"`Lambda` layer.*safe_mode=False"):
        keras.saving.load_model(path, safe_mode=True)
    _assert_intact(before, tmp_path)
