"""Choosing a tf.distribute strategy, and who among the workers writes files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import tensorflow as tf
from absl import logging


def configure_cpu_devices(num_devices: int) -> None:
    """Splits the CPU into ``num_devices`` logical devices (before TensorFlow is initialised).

    This is how a multi-device run (``MirroredStrategy``) is exercised on a machine without
    GPUs. It must run before any op executes; afterwards TensorFlow refuses with a RuntimeError.
    """
    if num_devices < 1:
        raise ValueError(f"num_cpu_devices must be at least 1, got {num_devices}")
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if num_devices == 1 and not current:
        return
    if current and len(current) == num_devices:
        return
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )


def cluster_workers() -> int:
    """How many workers (chief included) ``TF_CONFIG`` describes; 0 without one."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None
    return sum(len(cluster.get(job, [])) for job in ("chief", "worker"))


def make_strategy(num_cpu_devices: int = 1) -> tf.distribute.Strategy:
    """The strategy for this process.

    - ``TF_CONFIG`` describing more than one worker: ``MultiWorkerMirroredStrategy``;
    - several GPUs: ``MirroredStrategy`` over all of them;
    - ``num_cpu_devices > 1`` (and no GPU): ``MirroredStrategy`` over that many logical CPUs;
    - otherwise the default strategy (one device, no distribution overhead).
    """
    if cluster_workers() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    # physical, not logical: listing logical devices initialises TensorFlow, after which the CPU
    # can no longer be split into logical devices
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return mirrored_strategy()
    if num_cpu_devices > 1 and gpus:
        logging.warning("num_cpu_devices=%d ignored: a GPU is present", num_cpu_devices)
    if num_cpu_devices > 1 and not gpus:
        configure_cpu_devices(num_cpu_devices)
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")][:num_cpu_devices]
        return mirrored_strategy(cpus)
    return tf.distribute.get_strategy()


def mirrored_strategy(devices=None) -> tf.distribute.MirroredStrategy:
    """A ``MirroredStrategy`` whose collectives cannot collide with an earlier one's.

    Every ``MirroredStrategy`` numbers its collective groups from the class attribute
    ``_collective_key_base``, and the process caches each (group, instance) key's shape: a
    second strategy in the same process (a second run, a test after a test) reuses the keys of
    the first with other shapes and aborts with "Shape mismatch in the collective instance"
    (tensorflow#62790), which also poisons every later collective. TensorFlow's own test
    combinations (``strategy_combinations._mirrored_strategy_with_collective_key_base``) move
    the base by 100000 per strategy; so do we."""
    tf.distribute.MirroredStrategy._collective_key_base += 100_000
    return tf.distribute.MirroredStrategy(devices)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the one process that writes checkpoints, summaries and exports."""
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def writable_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """``path`` for the chief; a private temporary directory for every other worker.

    Multi-worker checkpointing is collective (every worker must call save), but only the chief's
    copy is kept; the others write where nobody will look, as TensorFlow's guide recommends.
    """
    if is_chief(strategy):
        return path
    resolver = strategy.extended._cluster_resolver
    # one scratch directory per worker process and workdir
    tag = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:8]
    return os.path.join(
        tempfile.gettempdir(),
        f"yeehaw_tf_{resolver.task_type}{resolver.task_id}_{os.getpid()}_{tag}",
        os.path.basename(os.path.normpath(path)),
    )
