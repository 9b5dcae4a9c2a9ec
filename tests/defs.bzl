"""``pytest_package``: one Bazel ``py_test`` per test package, running pytest on that directory
(``tests/bazel_pytest.py``) with the package's files, the shared test helpers and the top-level
files the tests read (``train.py``, ``export/``, ``setup.cfg``, the docs). ``data``: test modules
of other packages that this package's tests import (their references), e.g.
``//tests/attacks:references``."""

def pytest_package(name, size = "large", shard_count = 1, data = []):
    native.py_test(
        name = name,
        size = size,
        srcs = ["//tests:bazel_pytest.py"] + native.glob(["*.py"], exclude = ["bazel_pytest.py"]),
        main = "//tests:bazel_pytest.py",
        args = [native.package_name()],
        data = ["//tests:support", "//:top_level"] + data,
        deps = ["//:yeehaw_tf"],
        shard_count = shard_count,
    )
