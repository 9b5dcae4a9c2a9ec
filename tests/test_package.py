"""The top-level module: lazy subpackages, one version."""

from __future__ import annotations

import configparser
import os

from tests.helpers import REPO, run_cli


def test_subpackages_are_reachable_from_the_top_level_and_imported_lazily():
    script = (
        "import sys, yeehaw_tf as yt\n"
        "assert 'tensorflow' not in sys.modules, 'import yeehaw_tf imported TensorFlow'\n"
        "assert yt.layers.Maxout.__name__ == 'Maxout' and yt.ops.iou\n"
        "assert 'layers' in dir(yt)\n"
        "try:\n    yt.nope\nexcept AttributeError as e:\n    print('refused', e)\n"
    )
    result = run_cli("-c", script)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused module 'yeehaw_tf' has no attribute 'nope'" in result.stdout


def test_the_version_is_written_once():
    import yeehaw_tf

    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    assert config["metadata"]["version"] == "attr: yeehaw_tf.__version__"
    with open(os.path.join(REPO, "CHANGELOG.md")) as f:
        assert f"## {yeehaw_tf.__version__}" in f.read()
    entry_points = config["options.entry_points"]["console_scripts"]
    for name in ("yeehaw-train", "yeehaw-export", "yeehaw-predict"):
        assert name in entry_points
