"""The repository's promises: the README's two commands and what CI runs."""

import os
import re

import pytest

from tests.helpers import REPO, UNDER_BAZEL


def _readme_commands():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_opens_with_the_two_commands():
    with open(os.path.join(REPO, "README.md")) as f:
        head = f.read().split("\n## ")[0]
    commands = re.findall(r"```bash\n(.+?)\n```", head)
    assert len(commands) == 2
    assert commands[0].endswith("python train.py")
    assert "pytest" in commands[1] and '".[test]"' in commands[1]


@pytest.mark.skipif(UNDER_BAZEL, reason=".ci/ is the checkout's, not in Bazel's runfiles")
def test_ci_runs_the_readme_test_command_verbatim():
    with open(os.path.join(REPO, ".ci", "run")) as f:
        lines = [line for line in f.read().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == _readme_commands()[1]
    assert "set -euo pipefail" in lines  # any failure, pytest's exit code 5 included, fails CI
