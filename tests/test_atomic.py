import os

import pytest

from yeehaw_tf.atomic import atomic_directory, atomic_write_text


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
    backup = tmp_path / ".export.old-999999999"  # from a process that no longer exists
    backup.mkdir()
    _write(str(backup), "a", "good")
    (tmp_path / ".export.tmp-999999999-abc").mkdir()  # a staging dir from a killed run
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


def test_a_live_exports_staging_is_left_alone(tmp_path):
    live = tmp_path / f".export.tmp-{os.getpid()}-zzz"
    live.mkdir()
    with atomic_directory(str(tmp_path / "export")) as staging:
        _write(staging, "a", "x")
    assert live.exists()


def test_results_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_directory(str(tmp_path / "export")) as staging:
            _write(staging, "a", "x")
        atomic_write_text(str(tmp_path / "config.json"), "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "export").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o644
