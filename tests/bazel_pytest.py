"""Entry point for ``bazel test //:tests``: runs the pytest suite from the workspace root."""

import os
import sys

import pytest

if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(pytest.main(["-q", "tests"]))
