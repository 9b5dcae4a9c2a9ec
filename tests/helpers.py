"""Helpers shared by tests: subprocess runs of the CLIs and tolerances in one place."""

from __future__ import annotations

import os
import subprocess
import sys

# Set by Bazel in its test targets: the tests then run in a sandbox over the runfiles, not in
# the checkout.
UNDER_BAZEL = "TEST_SRCDIR" in os.environ
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tolerances, in one place.
FLOAT32_ATOL = 1e-5  # float32 computations compared with a float64 reference or another path
STEP_ATOL = 1e-6  # weights after the same update computed two ways


def run_cli(
    *args: str, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Runs ``python ARGS...`` in the repository root and returns the completed process."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def as_list(x) -> list:
    """A layer's or model's input/output as a list (one tensor -> ``[tensor]``)."""
    return list(x) if isinstance(x, list | tuple) else [x]
