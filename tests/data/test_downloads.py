"""A real dataset that needs a download fails fast offline; nothing else touches the network.

The network is never used: ``socket.create_connection`` is replaced by a fake that records its
calls and refuses (or accepts) them, and TFDS's ``download_and_prepare`` by one that fails the
test, so no test here can start a download.
"""

import threading

import numpy as np
import pytest
import tensorflow_datasets as tfds

from yeehaw_tf.data import downloads, load_classification, load_segmentation


class _FakeConnect:
    """Stands in for ``socket.create_connection``: records ``(address, timeout)``; refuses
    (``OSError``) unless ``accept``."""

    def __init__(self, accept=False):
        self.accept = accept
        self.calls = []

    def __call__(self, address, timeout=None, *args, **kwargs):
        self.calls.append((address, timeout))
        if not self.accept:
            raise OSError(-2, "Name or service not known")
        return self

    def close(self):
        pass


@pytest.fixture
def connect(monkeypatch):
    fake = _FakeConnect()
    monkeypatch.setattr(downloads.socket, "create_connection", fake)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    return fake


@pytest.fixture
def downloads_attempted(monkeypatch):
    """Replaces TFDS's download_and_prepare; the list of builders it was called for."""
    attempted = []

    def download_and_prepare(builder, *args, **kwargs):
        attempted.append(builder.name)
        raise RuntimeError("a download was attempted")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    return attempted


@pytest.mark.parametrize(
    "load, name, host",
    [
        (load_classification, "cifar10", "www.cs.toronto.edu"),
        (load_classification, "mnist", "storage.googleapis.com"),
        (load_segmentation, "oxford_iiit_pet", "thor.robots.ox.ac.uk"),
    ],
)
def test_unreachable_host_fails_fast_saying_where_from_and_what_instead(
    tmp_path, connect, downloads_attempted, load, name, host
):
    with pytest.raises(ValueError) as raised:
        load(name, str(tmp_path))
    message = str(raised.value)
    version = tfds.builder(name, data_dir=str(tmp_path)).version
    assert f"dataset {name!r}" in message
    assert f"https://{host}/" in message  # the URL TFDS would fetch from
    assert "Name or service not known" in message  # why
    assert "--data_dir" in message and f"{name}/{version}" in message
    assert "digits, shapes" in message  # the built-in alternatives
    # one short probe of the download host, and no download
    assert connect.calls == [((host, 443), downloads.PROBE_TIMEOUT_S)]
    assert downloads.PROBE_TIMEOUT_S <= 5
    assert downloads_attempted == []


def test_reachable_host_goes_on_to_the_download(tmp_path, connect, downloads_attempted):
    connect.accept = True
    with pytest.raises(RuntimeError, match="a download was attempted"):
        load_classification("cifar10", str(tmp_path))
    assert connect.calls == [(("www.cs.toronto.edu", 443), downloads.PROBE_TIMEOUT_S)]
    assert downloads_attempted == ["cifar10"]


def test_the_proxy_is_probed_when_the_environment_sets_one(tmp_path, connect, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(ValueError, match="proxy.example:3128 cannot be reached"):
        load_classification("cifar10", str(tmp_path))
    assert connect.calls == [(("proxy.example", 3128), downloads.PROBE_TIMEOUT_S)]


def test_a_hanging_name_lookup_is_cut_short(monkeypatch):
    """The socket timeout does not bound name resolution; the probe's own wait does."""
    release = threading.Event()  # set at the end, so that the probe's thread ends too

    def hang(*args, **kwargs):
        release.wait()
        raise OSError("released")

    monkeypatch.setattr(downloads.socket, "create_connection", hang)
    try:
        assert downloads.connection_error("example.invalid", 443, timeout=0.05) == (
            "no answer within 0.1 s"
        )
    finally:
        release.set()


def test_built_in_datasets_never_probe_the_network(tmp_path, connect):
    data = load_segmentation("shapes/tiny", str(tmp_path))  # generated here, offline
    assert data.num_train == 64
    load_classification("shapes/tiny", str(tmp_path))  # already prepared
    assert connect.calls == []


def test_a_prepared_real_dataset_loads_without_probing(tmp_path, monkeypatch, connect):
    """MNIST prepared in data_dir (from 12 fake examples, without its downloader) loads with
    the network unreachable and nothing probed."""
    rng = np.random.default_rng(0)

    def fake_examples(count):
        for i in range(count):
            image = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8)
            yield i, {"image": image, "label": int(i % 10)}

    builder = tfds.builder("mnist", data_dir=str(tmp_path))
    monkeypatch.setattr(
        type(builder),
        "_split_generators",
        lambda self, dl_manager: {"train": fake_examples(12), "test": fake_examples(4)},
    )
    builder.download_and_prepare()
    data = load_classification("mnist", str(tmp_path))
    assert (data.num_train, data.num_test, data.num_classes) == (12, 4, 10)
    assert connect.calls == []


def test_mock_data_stands_in_without_probing(tmp_path, connect):
    with tfds.testing.mock_data(num_examples=4):
        data = load_classification("cifar10", str(tmp_path))
    assert data.image_shape == (32, 32, 3) and connect.calls == []
