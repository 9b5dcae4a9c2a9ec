"""``python -m yeehaw_tf.attacks`` on a tiny trained run, end to end, and its refusals."""

import json
import os
import runpy
import sys

import pytest

from yeehaw_tf.cli.attacks import main


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_dir):
    from yeehaw_tf.training import run_experiment
    from yeehaw_tf.training.config import make_config

    workdir = str(tmp_path_factory.mktemp("attacks") / "run")
    config = make_config(
        workdir=workdir,
        data_dir=data_dir,
        batch_size=32,
        train_steps=30,
        steps_per_loop=10,
        checkpoint_every=30,
        export=False,
    )
    run_experiment(config, verbose=0)
    return workdir


def test_the_command_attacks_a_trained_run_and_writes_its_report(workdir, capsys, monkeypatch):
    flags = ["--epsilons=0,8", "--max_examples=64", "--batch_size=32", "--num_shown=3"]
    # ``python -m yeehaw_tf.attacks``, run in this process (a subprocess re-imports TF)
    monkeypatch.setattr(sys, "argv", ["attacks", f"--workdir={workdir}", *flags])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("yeehaw_tf.attacks", run_name="__main__")
    assert exit_.value.code == 0
    out = os.path.join(workdir, "attacks")
    assert sorted(os.listdir(out)) == ["accuracy_vs_epsilon.png", "examples.png", "report.json"]
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert report["num_examples"] == 64 and report["epsilons"] == [0.0, 8.0]
    assert report["run"]["model"] == "small_resnet" and report["run"]["dataset"] == "digits"
    assert report["run"]["checkpoint"].endswith("ckpt-30")
    assert set(report["attacks"]) == {"fgsm", "iterative_fgsm", "least_likely"}
    for rows in report["attacks"].values():
        assert rows[0]["accuracy"] == report["clean_accuracy"]
        assert rows[1]["accuracy"] <= rows[0]["accuracy"]
    assert report["clean_accuracy"] > 0.3  # it learned something in 30 steps
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"64 test examples, clean accuracy {report['clean_accuracy']:.4f}"
    assert ["epsilon", "fgsm", "iterative_fgsm", "least_likely"] in [line.split() for line in lines]
    assert "report.json" in lines[-1] and "examples.png" in lines[-1]


def test_out_and_a_subset_of_attacks(workdir, tmp_path, capsys):
    out = str(tmp_path / "elsewhere")
    argv = [f"--workdir={workdir}", f"--out={out}", "--attacks=fgsm", "--epsilons=4"]
    assert main([*argv, "--max_examples=8", "--num_shown=2", "--example_epsilon=2"]) == 0
    with open(os.path.join(out, "report.json")) as f:
        assert list(json.load(f)["attacks"]) == ["fgsm"]
    assert "fgsm" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--epsilons=300", "epsilon must be a number in [0, 255]"),
        ("--epsilons=a,b", "--epsilons takes comma-separated numbers"),
        ("--example_epsilon=-1", "epsilon must be a number in [0, 255]"),
        ("--attacks=fgsm,pgd", "--attacks: unknown ['pgd']; valid: fgsm, iterative_fgsm"),
        ("--max_examples=0", "--max_examples must be a positive integer"),
    ],
)
def test_bad_flags_are_refused_before_any_work(tmp_path, capsys, flag, message):
    with pytest.raises(SystemExit) as exit_:
        main([f"--workdir={tmp_path}", flag])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_workdir_without_a_run_is_refused(tmp_path, capsys):
    assert main([f"--workdir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("attacks: error:") and "holds no run" in err
    assert not os.path.exists(tmp_path / "attacks")


def test_a_run_of_another_task_is_refused(tmp_path, capsys, monkeypatch):
    from yeehaw_tf.training import runs
    from yeehaw_tf.training.tasks import SegmentationOptions, SegmentationTask

    task = SegmentationTask(
        SegmentationOptions(), num_classes=3, input_shape=(8, 8, 3), mean=(0,) * 3, std=(1,) * 3
    )
    monkeypatch.setattr(runs, "load_run", lambda workdir: runs.Run({}, task, {}, "ckpt-1"))
    assert main([f"--workdir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert "holds a 'segmentation' run; the attacks need a 'classification' run" in err
