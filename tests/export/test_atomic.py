import os

import pytest

from yeehaw_tf.export.atomic import atomic_directory, atomic_write_text


def _write(directory, name, text):
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


def test_success_replaces_the_whole_directory(tmp_path):
    target = tmp_path / "export"
    with atomic_directory(str(target)) as staging:
        _write(staging, "a", "old")
        _write(staging, "stale", "x")
    with atomic_directory(str(target)) as staging:
        _write(staging, "a", "new")
    assert sorted(os.listdir(target)) == ["a"]
    assert (target / "a").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no staging or backup left behind


def test_failure_leaves_the_old_directory_untouched(tmp_path):
    target = tmp_path / "export"
    with atomic_directory(str(target)) as staging:
        _write(staging, "a", "good")
    with pytest.raises(RuntimeError), atomic_directory(str(target)) as staging:
        _write(staging, "a", "half")
        raise RuntimeError("interrupted")
    assert (target / "a").read_text() == "good"
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_a_swap_cut_between_its_renames_is_recovered(tmp_path):
    target = tmp_path / "export"
    backup = tmp_path / ".export.old-123"
    backup.mkdir()
    _write(str(backup), "a", "good")
    (tmp_path / ".export.tmp-abc").mkdir()  # a staging dir from a killed run
    with pytest.raises(RuntimeError), atomic_directory(str(target)):
        raise RuntimeError("fail again")
    assert (target / "a").read_text() == "good"
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "config.json"
    atomic_write_text(str(path), "{}")
    atomic_write_text(str(path), '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert os.listdir(path.parent) == ["config.json"]
