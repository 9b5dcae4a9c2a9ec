"""Test set-up: quiet TF, two logical CPU devices (for MirroredStrategy tests), shared data."""

from __future__ import annotations

import os

# Hide TF's C++ start-up chatter (CPU features, the failed CUDA probe on machines without a GPU).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

# Logical devices can only be configured before TensorFlow initialises its runtime, so it is
# done once here, at import. Tests that do not distribute run on the first device as usual.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
tfds.disable_progress_bar()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    """A TFDS data dir with `digits` and `shapes/tiny` prepared (offline, seconds)."""
    from yeehaw_tf.data import load_classification

    path = str(tmp_path_factory.mktemp("tensorflow_datasets"))
    load_classification("digits", path)
    load_classification("shapes/tiny", path)
    return path


@pytest.fixture(scope="session")
def two_replicas() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over the two logical CPUs, shared by every test in the process.

    Made by ``mirrored_strategy``, which gives each strategy its own collective keys (plain
    MirroredStrategy objects in one process reuse them and fail with "Shape mismatch in the
    collective instance" once another has run an all-reduce).
    """
    from yeehaw_tf.training.strategy import mirrored_strategy

    return mirrored_strategy(["/cpu:0", "/cpu:1"])


def _modules_with_module_fixtures() -> set[str]:
    """Test files (as nodeid prefixes) that define a module-scoped fixture."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = set()
    for folder, _, files in os.walk(os.path.join(root, "tests")):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as f:
                    if 'scope="module"' in f.read():
                        found.add(os.path.relpath(path, root).replace(os.sep, "/"))
    return found


def pytest_xdist_make_scheduler(config, log):
    """``-n N`` (xdist's ``load``): tests spread one by one, except that a module with a
    module-scoped fixture (a trained run, a scorer) goes to one worker whole, so the fixture is
    built once rather than once per worker that draws one of its tests (``--dist loadgroup``
    would do this, but its marks do not reach the nodeids under pytest 9). Grouped modules are
    sent first, largest first, so no long module is left to run alone at the end."""
    if config.getvalue("dist") != "load":
        return None  # another --dist asked for: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    grouped = _modules_with_module_fixtures()

    class ModuleFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in grouped else nodeid

    return ModuleFixtureScheduling(config, log)
