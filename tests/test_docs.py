"""The docs do not rot: every ``train.py`` command quoted in README.md and docs/ names flags
that exist, every quoted script or module exists, and every relative link resolves."""

from __future__ import annotations

import glob
import importlib.util
import os
import re

import pytest

from tests.helpers import REPO, run_cli

PAGES = [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]


def _code_lines(path: str) -> list[str]:
    """Lines inside fenced code blocks and inline code spans."""
    with open(path) as f:
        text = f.read()
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        lines += block.splitlines()
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return lines


@pytest.fixture(scope="module")
def train_flags() -> set[str]:
    text = run_cli("train.py", "--helpfull").stdout
    return set(re.findall(r"^\s+--(?:\[no\])?([a-z0-9_]+)", text, flags=re.M))


def test_quoted_train_commands_name_existing_flags(train_flags):
    unknown = []
    for page in PAGES:
        for line in _code_lines(page):
            if "train.py" not in line or "yeehaw-train" in line:
                continue
            command = line.split("#")[0]
            for flag in re.findall(r"--(?:no)?([a-z][a-z0-9_]*)", command):
                if flag not in train_flags and f"no{flag}" not in train_flags:
                    unknown.append((os.path.basename(page), flag, line.strip()))
    assert not unknown, unknown


def test_quoted_scripts_and_modules_exist():
    missing = []
    for page in PAGES:
        for line in _code_lines(page):
            for module in re.findall(r"python -m ((?:experiments|benchmarks)\.[a-z_]+)", line):
                if not os.path.exists(os.path.join(REPO, *module.split(".")) + ".py"):
                    missing.append((os.path.basename(page), module))
            for script in re.findall(r"(benchmarks/[a-z_]+\.(?:py|sh))", line):
                if not os.path.exists(os.path.join(REPO, script)):
                    missing.append((os.path.basename(page), script))
    assert not missing, missing


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            if not os.path.exists(os.path.join(os.path.dirname(page), target)):
                broken.append((os.path.basename(page), target))
    assert not broken, broken


def _make_pictures():
    spec = importlib.util.spec_from_file_location(
        "make_pictures", os.path.join(REPO, "docs", "make_pictures.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_pictures_runs_name_existing_flags_and_every_run_picture_is_shown(train_flags):
    """``docs/make_pictures.py --runs`` trains with flags that exist, and each picture it makes
    is linked from a page (the function plots are drawn by tests/analysis/test_plots.py)."""
    make_pictures = _make_pictures()
    pages = "".join(open(page).read() for page in PAGES)
    for picture, (_, commands, _) in make_pictures.RUNS.items():
        assert f"images/{picture}" in pages, picture
        for command in commands:
            if command[0].endswith("train.py"):
                for arg in command[1:]:
                    flag = re.match(r"--(?:no)?([a-z][a-z0-9_]*)", arg).group(1)
                    assert flag in train_flags, (picture, flag)
    for picture in ("activations.png", "schedules.png", "optimizer_paths.png"):
        assert f"images/{picture}" in pages, picture
    with pytest.raises(ValueError, match="unknown picture 'nope.png'"):
        make_pictures.draw_runs("/nonexistent", "/nonexistent", ["nope.png"])
