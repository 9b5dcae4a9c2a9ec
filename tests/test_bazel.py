"""The Bazel build is real: with Debian's Bazel 4.2.3 (``bazel-bootstrap``) and nothing
downloaded, the library builds and a test package's target passes. Skipped where Bazel is not
installed, except on CI (``CI=true``), where its absence is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO, UNDER_BAZEL

BAZEL = shutil.which("bazel")


@pytest.fixture(scope="module")
def bazel() -> str:
    if UNDER_BAZEL:
        pytest.skip("runs Bazel on the checkout: not from inside a Bazel test's sandbox")
    if BAZEL is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but bazel is not installed (apt-get install bazel-bootstrap)")
        pytest.skip("bazel is not installed (apt-get install bazel-bootstrap)")
    return BAZEL


def _bazel(bazel: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [bazel, "--batch", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_the_library_builds_and_a_test_package_passes_under_bazel(bazel):
    built = _bazel(bazel, "build", f"--python_path={sys.executable}", "//:yeehaw_tf", "//:train")
    assert built.returncode == 0, built.stderr[-3000:]
    tested = _bazel(bazel, "test", f"--python_path={sys.executable}", "//tests/metrics:all")
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-3000:]
    assert "//tests/metrics:metrics" in tested.stdout + tested.stderr
    assert "PASSED" in tested.stdout + tested.stderr
