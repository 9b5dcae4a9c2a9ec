"""Entry point of the Bazel test targets: ``bazel_pytest.py tests/ops`` runs pytest on that one
test package from the runfiles' workspace root (where the package, the shared test helpers and
the top-level files the tests read are linked)."""

import os
import sys

import pytest

if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    package = sys.argv[1] if len(sys.argv) > 1 else "tests"
    # only this directory's files: subpackages are targets of their own
    files = sorted(
        os.path.join(package, f)
        for f in os.listdir(package)
        if f.startswith("test_") and f.endswith(".py")
    )
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *files]))
