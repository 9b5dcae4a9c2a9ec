"""The wheel holds everything the console entry points need: it is built from the checkout,
installed (not editable) into a fresh venv outside it, and ``yeehaw-train`` then
``yeehaw-export`` run on the result from another directory.

The fresh venv reads the dependencies from the test's own environment through a ``.pth`` line
(downloading TensorFlow again would take minutes); a path added that way is searched after the
venv's own site-packages and its ``.pth`` files are not run, so the editable install of the
checkout is not visible there, and ``yeehaw_tf`` can only come from the wheel (checked)."""

from __future__ import annotations

import glob
import os
import site
import subprocess
import sys

import pytest

from tests.helpers import REPO


def _run(*args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_the_wheel_installs_and_its_entry_points_train_and_export(tmp_path, data_dir):
    dist = tmp_path / "dist"
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(dist),
        REPO,
        cwd=str(tmp_path),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = glob.glob(str(dist / "yeehaw_tf-*.whl"))
    venv = tmp_path / "fresh"
    created = _run(sys.executable, "-m", "venv", str(venv), cwd=str(tmp_path))
    assert created.returncode == 0, created.stderr
    (fresh_site,) = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
    with open(os.path.join(fresh_site, "project_dependencies.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")
    python = str(venv / "bin" / "python")
    installed = _run(python, "-m", "pip", "install", "--no-deps", "-q", wheel, cwd=str(tmp_path))
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = _run(python, "-c", "import yeehaw_tf; print(yeehaw_tf.__file__)", cwd=str(tmp_path))
    assert where.stdout.strip().startswith(fresh_site), where.stdout + where.stderr

    workdir = tmp_path / "run"
    train = _run(
        str(venv / "bin" / "yeehaw-train"),
        "--train_steps=20",
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        "--quantize=float32",
        cwd=str(tmp_path),
    )
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    assert (workdir / "export" / "model_float32.tflite").exists()
    export = _run(
        str(venv / "bin" / "yeehaw-export"),
        f"--workdir={workdir}",
        "--quantize=float32",
        cwd=str(tmp_path),
    )
    assert export.returncode == 0, (export.stdout + export.stderr)[-3000:]
    assert (workdir / "export" / "report.json").exists()
