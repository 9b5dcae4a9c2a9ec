"""train.py and python -m export, run as a user would, in subprocesses."""

import glob
import json
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_cli


def _train(workdir, data_dir, *extra):
    return run_cli(
        "train.py",
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        "--train_steps=40",
        "--checkpoint_every=20",
        "--steps_per_loop=10",
        *extra,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("cli") / "run")
    result = _train(workdir, data_dir, "--quantize=float32", "--quantize=int8")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_train_writes_checkpoints_logs_exports_and_a_summary(run):
    workdir, result = run
    assert "test accuracy" in result.stdout and "parameters" in result.stdout
    assert "model_int8.tflite" in result.stdout and "FAILED" not in result.stdout
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-40")
    assert glob.glob(os.path.join(workdir, "tensorboard", "train", "events.out.tfevents.*"))
    assert glob.glob(os.path.join(workdir, "tensorboard", "eval", "events.out.tfevents.*"))
    with open(os.path.join(workdir, "export", "report.json")) as f:
        report = json.load(f)
    assert set(report["formats"]) == {"saved_model", "float32", "int8"}
    assert all(row["passed"] for row in report["formats"].values())
    assert sorted(os.listdir(os.path.join(workdir, "export"))) == [
        "metadata.json",
        "model_float32.tflite",
        "model_int8.tflite",
        "report.json",
        "saved_model",
    ]


def test_rerunning_the_same_command_resumes(run, data_dir):
    workdir, _ = run
    result = _train(workdir, data_dir, "--quantize=float32", "--quantize=int8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stdout and "ckpt-40" in result.stdout
    assert "test accuracy" in result.stdout  # a finished run evaluates and re-exports
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-40")


def test_resuming_with_other_steps_or_precision_is_refused(run, data_dir):
    workdir, _ = run
    for flag, field in (
        ("--train_steps=50", "total_steps"),
        ("--mixed_precision=float16", "mixed_precision"),
    ):
        result = _train(workdir, data_dir, flag)
        assert result.returncode != 0
        assert "different run" in result.stderr and field in result.stderr
        assert "Traceback" not in result.stderr


def test_export_cli_reexports_from_the_checkpoint(run):
    workdir, _ = run
    result = run_cli(
        "-m", "export", f"--workdir={workdir}", "--quantize=float32", "--formats=tflite"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(os.path.join(workdir, "export"))) == [
        "metadata.json",
        "model_float32.tflite",
        "report.json",
    ]


def test_a_different_run_in_the_same_workdir_is_refused(run, data_dir):
    workdir, _ = run
    result = _train(workdir, data_dir, "--seed=7")
    assert result.returncode != 0
    assert "different run" in result.stderr and "seed" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_with_another_runs_checkpoint_fails_cleanly(run, tmp_path, data_dir):
    workdir, _ = run
    other = str(tmp_path / "other")
    trained = run_cli(
        "train.py",
        f"--workdir={other}",
        f"--data_dir={data_dir}",
        "--dataset=shapes/tiny",
        "--train_steps=2",
        "--noexport",
        "--batch_size=16",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    checkpoint = tf.train.latest_checkpoint(os.path.join(other, "checkpoints"))
    result = run_cli("-m", "export", f"--workdir={workdir}", f"--checkpoint={checkpoint}")
    assert result.returncode != 0
    assert "does not fit the model" in result.stderr and "Traceback" not in result.stderr


def test_export_without_a_checkpoint_fails_cleanly_and_writes_nothing(tmp_path):
    result = run_cli("-m", "export", f"--workdir={tmp_path}")
    assert result.returncode != 0
    assert "holds no run" in result.stderr
    assert os.listdir(tmp_path) == []
    (tmp_path / "config.json").write_text('{"train": {}, "task": {}}')
    result = run_cli("-m", "export", f"--workdir={tmp_path}")
    assert result.returncode != 0 and "no checkpoint" in result.stderr
    assert os.listdir(tmp_path) == ["config.json"]


BAD_FLAGS = [
    # enum flags (choices generated from the options dataclasses) are refused by absl
    ("--model=resnet9000", "--model=resnet9000: value should be one of <alexnet|"),
    ("--task=captioning", "--task=captioning: value should be one of <classification|"),
    ("--loop=jax", "--loop=jax: value should be one of <custom|fit>"),
    # other values by the dataclasses' validation
    ("--dataset=imagenet21k", "valid names: digits, shapes"),
    ("--batch_size=0", "train.py: error: batch_size must be a positive integer, got 0"),
    ("--train_steps=-5", "train.py: error: train_steps must be a positive integer, got -5"),
    ("--seed=-1", "train.py: error: seed must be an integer in [0, 2**32), got -1"),
    ("--learning_rate=inf", "train.py: error: learning_rate must be positive and finite"),
    ("--epochs=0", "train.py: error: epochs must be a positive integer, got 0"),
    (
        "--task=segmentation --loss=hinge",
        "train.py: error: option 'loss' does not apply to task 'segmentation'",
    ),
    (
        "--base_filters=8",
        "train.py: error: option 'base_filters' does not apply to task 'classification'",
    ),
    ("--optimizer=adam --momentum=0.9", "momentum does not apply"),
    ("--lr_schedule=step --lr_boundaries=300,100", "strictly increasing"),
    ("--task=segmentation --model=resnet18", "unknown segmentation model 'resnet18'"),
    ("--task=segmentation --dataset=digits", "no segmentation masks"),
    ("--freeze=all_but_last_x", "freeze must be none, backbone or all_but_last_N"),
    ("--freeze=all_but_last_999", "--freeze=all_but_last_999: the model 'small_resnet' has only"),
    ("--unfreeze_step=10", "unfreeze_step needs --freeze"),
    ("--init_from=/nonexistent/run", "--init_from: /nonexistent/run is neither a workdir nor"),
    ("--classes=3,3", "classes must list at least two distinct class labels"),
    ("--classes=5,12", "classes: labels [12] are not classes of this dataset (0..9)"),
    ("--preprocessing=whiten", "--preprocessing=whiten: value should be one of"),
]


@pytest.fixture(scope="module")
def bad_flag_results(tmp_path_factory):
    """Every bad command line of BAD_FLAGS through train.py's parsing and main, in one process
    (tests/cli/bad_flags_driver.py); train.py itself runs as a subprocess below."""
    root = tmp_path_factory.mktemp("bad_flags")
    result = run_cli("-m", "tests.cli.bad_flags_driver", str(root), *[f for f, _ in BAD_FLAGS])
    assert result.returncode == 0, result.stderr[-3000:]
    return root, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("flag, message", BAD_FLAGS)
def test_bad_flags_fail_before_training_with_a_clear_message(flag, message, bad_flag_results):
    root, results = bad_flag_results
    result = results[flag]
    assert result["rc"] != 0
    assert message in result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert not glob.glob(str(root / "*" / "checkpoints"))


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--model=resnet9000", "--model=resnet9000: value should be one of <alexnet|"),
        ("--batch_size=0", "train.py: error: batch_size must be a positive integer, got 0"),
        ("--batch_size=63 --num_cpu_devices=2", "divisible"),
    ],
)
def test_train_py_itself_refuses_bad_flags(flag, message, tmp_path):
    result = run_cli("train.py", *flag.split(), f"--workdir={tmp_path / 'w'}")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "w" / "checkpoints")


def test_help_documents_every_flag():
    result = run_cli("train.py", "--helpfull")
    for flag in (
        "task",
        "model",
        "dataset",
        "data_dir",
        "workdir",
        "batch_size",
        "train_steps",
        "epochs",
        "checkpoint_every",
        "seed",
        "deterministic",
        "loop",
        "num_cpu_devices",
        "mixed_precision",
        "jit_compile",
    ):
        assert f"--{flag}" in result.stdout or f"--[no]{flag}" in result.stdout, flag


@pytest.mark.slow
def test_main_job_reaches_the_promised_accuracy_and_exports(tmp_path, data_dir):
    """`python train.py` with its defaults: >= 0.97 test accuracy, all exports within limits."""
    workdir = str(tmp_path / "main")
    result = run_cli("train.py", f"--workdir={workdir}", f"--data_dir={data_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(workdir, "export", "report.json")) as f:
        report = json.load(f)
    assert report["keras"]["accuracy"] >= 0.97
    for name in ("saved_model", "float32", "float16", "dynamic", "int8"):
        row = report["formats"][name]
        assert row["passed"], (name, row)
        assert report["keras"]["accuracy"] - row["accuracy"] <= 0.01
    assert report["formats"]["float32"]["max_abs_diff"] < 1e-5
    assert np.isfinite(report["formats"]["int8"]["max_abs_diff"])


@pytest.mark.slow
def test_two_cpu_devices_and_fit_loop_train_from_the_cli(tmp_path, data_dir):
    choices = [
        "--activation=elu",
        "--norm=group",
        "--dropout=0.2",
        "--label_smoothing=0.1",
        "--weight_decay=1e-4",
        "--l1=1e-6",
        "--l2=1e-5",
    ]
    for extra in (
        # each run combines several choices: a subprocess per choice costs a TF import each
        [
            "--num_cpu_devices=2",
            "--optimizer=nesterov",
            "--lr_schedule=step",
            "--lr_boundaries=5,10",
            "--clipnorm=1",
        ],
        ["--loop=fit", *choices],
        [
            "--mixed_precision=bfloat16",
            "--loss=hinge",
            "--norm=instance",
            "--activation=tanh",
            "--optimizer=adamw",
            "--weight_decay=0.01",
            "--lr_schedule=inverse_sqrt",
            "--warmup_steps=5",
        ],
    ):
        workdir = str(tmp_path / "_".join(e.split("=")[-1] for e in extra[:2]))
        result = _train(workdir, data_dir, "--train_steps=20", "--quantize=float32", *extra)
        assert result.returncode == 0, (extra, result.stderr[-3000:])
        assert "test accuracy" in result.stdout


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config(ports, index):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@pytest.mark.slow
def test_two_workers_train_like_one_process_and_only_the_chief_writes(tmp_path, data_dir):
    import subprocess
    import sys

    from tests.helpers import REPO

    args = [
        "train.py",
        f"--workdir={tmp_path / 'multi'}",
        f"--data_dir={data_dir}",
        "--train_steps=20",
        "--checkpoint_every=10",
        "--steps_per_loop=10",
        "--noexport",
    ]
    ports = _free_ports(2)
    workers = [
        subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": _tf_config(ports, i)},
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert "(2 replica(s))" in out
    single = run_cli(*[a.replace("multi", "single") for a in args])
    assert single.returncode == 0, single.stderr[-3000:]

    def loss(text):
        return float(next(line for line in text.splitlines() if "test loss" in line).split()[-1])

    # both workers report the same aggregated metrics, equal to one process on the same batches
    assert loss(outputs[0][0]) == loss(outputs[1][0])
    assert loss(outputs[0][0]) == pytest.approx(loss(single.stdout), rel=2e-3)
    # the chief kept every checkpoint; the other worker's scratch copy is gone
    chief_files = sorted(os.listdir(tmp_path / "multi" / "checkpoints"))
    assert chief_files == sorted(os.listdir(tmp_path / "single" / "checkpoints"))
    scratch = os.path.join(tempfile.gettempdir(), f"yeehaw_tf_worker1_{workers[1].pid}_*")
    assert not glob.glob(scratch)


def test_fit_under_multi_worker_is_refused_with_a_pointer_to_the_custom_loop(tmp_path):
    env = {"TF_CONFIG": _tf_config(_free_ports(2), 0)}
    result = run_cli("train.py", "--loop=fit", f"--workdir={tmp_path / 'w'}", env=env)
    assert result.returncode != 0
    assert "--loop=custom" in result.stderr and "20585" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_resnet20_on_digits_reaches_0_98(tmp_path, data_dir):
    """The documented command: python train.py --model resnet20 --dataset digits."""
    result = run_cli(
        "train.py",
        "--model=resnet20",
        "--dataset=digits",
        f"--data_dir={data_dir}",
        f"--workdir={tmp_path / 'r20'}",
        "--noexport",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = float(
        next(line for line in result.stdout.splitlines() if "test accuracy" in line).split()[-1]
    )
    assert accuracy >= 0.98


def test_imagenet_architectures_train_on_upsampled_digits_and_export(tmp_path, data_dir):
    result = run_cli(
        "train.py",
        "--model=mobilenet_v2",
        "--image_size=32,32",
        f"--data_dir={data_dir}",
        f"--workdir={tmp_path / 'mv2'}",
        "--train_steps=4",
        "--quantize=float32",
        "--formats=tflite",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model_float32.tflite" in result.stdout and "FAILED" not in result.stdout
