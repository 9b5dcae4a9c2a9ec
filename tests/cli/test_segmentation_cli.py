"""The segmentation task from the command line: a convergence run (slow) and its outputs."""

import json
import os

import pytest

from tests.helpers import run_cli


@pytest.mark.slow
def test_unet_on_shapes_reaches_mean_iou_0_8_and_exports(tmp_path, data_dir):
    """The command of docs/dense_prediction.md on the 32x32 config (the 64x64 default takes
    minutes: its measured result, 0.9756 in 7.6 min on a busy 2-core machine, is on that page
    and in the issue note)."""
    workdir = tmp_path / "seg"
    result = run_cli(
        "train.py",
        "--task=segmentation",
        "--model=unet",
        "--dataset=shapes/32x32",
        "--epochs=25",
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        "--formats=tflite",
        "--quantize=float32",
        "--quantize=float16",
        "--quantize=int8",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("test mean IoU"))
    assert float(line.split()[-1]) >= 0.80, result.stdout[-3000:]
    report = json.load(open(workdir / "export" / "report.json"))
    assert all(row["passed"] for row in report["formats"].values())  # float16 too
    assert report["formats"]["int8"]["mean_iou"] >= 0.75
    assert report["formats"]["float32"]["max_abs_diff"] < 1e-4
    assert os.path.exists(workdir / "overlays.png")
