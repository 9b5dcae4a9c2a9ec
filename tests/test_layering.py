"""Which package may import which, read from the source with ``ast`` (nothing is imported).

* Only ``yeehaw_tf.training`` itself and ``yeehaw_tf.cli`` (the command-line faces, which drive
  training) import ``yeehaw_tf.training``: models, layers, ops, export... stay usable without it.
* ``yeehaw_tf.models`` has no import cycle (the registry imports the families; a family never
  imports the registry back: built parts are passed in).

Every import counts, also one inside a function (a deferred import is still a dependency).
An import names the deepest module it loads: ``from a.b import c`` is ``a.b.c`` when that is a
module, else ``a.b``. Parent packages, which Python initialises on the way, are not counted:
they would make every import inside a package a cycle through its ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "yeehaw_tf"
# the packages allowed to import yeehaw_tf.training (cli: the command-line faces)
MAY_IMPORT_TRAINING = ("yeehaw_tf.training", "yeehaw_tf.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of ``package`` (packages by their
    ``__init__.py``)."""
    return {_module_name(path): path for path in sorted((root / package).rglob("*.py"))}


def _is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imported_modules(module: str, is_package: bool, source: str, known: set[str]) -> set[str]:
    """What ``source`` (the text of ``module``) imports, relative imports resolved, each import
    named by its deepest module: ``from X import Y`` is ``X.Y`` if that is in ``known`` (a
    module), else ``X``; ``import X.Y`` is ``X.Y``."""
    names = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # "from . import x" is relative to the package, ".." to its parent
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                names.add(submodule if submodule in known else target)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``{module: the modules of ``modules`` it imports}``."""
    known = set(modules)
    graph = {}
    for module, path in modules.items():
        names = imported_modules(module, path.name == "__init__.py", path.read_text(), known)
        graph[module] = (names & known) - {module}
    return graph


def find_cycle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A shortest import chain ``[start, ..., start]``, or ``None`` if ``start`` is on no cycle."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph.get(module, ())):
                if target == start:
                    chain = [module]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [*reversed(chain), start]
                if target not in parents:
                    parents[target] = module
                    following.append(target)
        frontier = following
    return None


MODULES = package_modules()
GRAPH = import_graph(MODULES)


# --- the helpers find what they should -------------------------------------------------------


def test_imports_are_read_with_relative_and_deferred_imports():
    source = (
        "import os, yeehaw_tf.ops.roi\n"
        "from . import unet, STRIDES\n"
        "from .. import registry\n"
        "from ...layers.roi import RoIAlign\n"
        "def build():\n"
        "    from yeehaw_tf import training\n"
        "    from yeehaw_tf.models import build\n"
    )
    known = {
        "yeehaw_tf.models",
        "yeehaw_tf.models.registry",
        "yeehaw_tf.models.segmentation.unet",
        "yeehaw_tf.training",
    }
    assert imported_modules("yeehaw_tf.models.segmentation.fcn", False, source, known) == {
        "os",
        "yeehaw_tf.ops.roi",
        "yeehaw_tf.models.segmentation.unet",
        "yeehaw_tf.models.segmentation",  # STRIDES: a name of the package
        "yeehaw_tf.models.registry",
        "yeehaw_tf.layers.roi",
        "yeehaw_tf.training",
        "yeehaw_tf.models",
    }
    in_package = imported_modules("yeehaw_tf.models", True, "from .registry import build", known)
    assert in_package == {"yeehaw_tf.models.registry"}


def test_cycles_are_found_and_reported_as_a_chain():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph, "a") == ["a", "b", "c", "a"]
    assert find_cycle(graph, "d") is None
    # the graph of the package is not empty: the registry imports the families
    assert "yeehaw_tf.models.segmentation.fcn" in GRAPH["yeehaw_tf.models.registry"]
    assert "yeehaw_tf.models.registry" in GRAPH["yeehaw_tf.models"]


# --- the rules --------------------------------------------------------------------------------


def test_only_training_and_cli_import_training():
    known = set(MODULES)
    offenders = {}
    for module, path in MODULES.items():
        if any(_is_within(module, allowed) for allowed in MAY_IMPORT_TRAINING):
            continue
        names = imported_modules(module, path.name == "__init__.py", path.read_text(), known)
        training = sorted(name for name in names if _is_within(name, "yeehaw_tf.training"))
        if training:
            offenders[module] = training
    assert not offenders, (
        "only yeehaw_tf.training and yeehaw_tf.cli may import yeehaw_tf.training; "
        f"these modules do: {offenders}"
    )


def test_fcn_does_not_import_the_registry():
    fcn = "yeehaw_tf.models.segmentation.fcn"
    assert "yeehaw_tf.models.registry" not in GRAPH[fcn]
    assert find_cycle(GRAPH, fcn) is None, " -> ".join(find_cycle(GRAPH, fcn))


def test_models_have_no_import_cycle():
    """Over the whole package's graph, so a cycle that leaves yeehaw_tf.models and comes back
    counts too."""
    cycles, seen = [], set()
    for module in sorted(m for m in MODULES if _is_within(m, "yeehaw_tf.models")):
        cycle = find_cycle(GRAPH, module)
        if cycle and module not in seen:  # each cycle once, from its first module
            cycles.append(" -> ".join(cycle))
            seen.update(cycle)
    assert not cycles, "import cycles in yeehaw_tf.models: " + "; ".join(cycles)


# The command-line faces, the experiment runner, the configuration and export must reach tasks
# only through the TASKS table: none of them may name a task.
TASK_AGNOSTIC = [
    ROOT / "train.py",
    ROOT / "yeehaw_tf" / "training" / "experiment.py",
    ROOT / "yeehaw_tf" / "training" / "config.py",
    ROOT / "yeehaw_tf" / "training" / "trainer.py",
    *sorted((ROOT / "export").glob("*.py")),
    *sorted((ROOT / "yeehaw_tf" / "export").glob("*.py")),
    *sorted((ROOT / "yeehaw_tf" / "cli").glob("*.py")),
]


def _task_name_lines(source: str, names: set[str]) -> list[tuple[int, str]]:
    """``(line, name)`` of every string constant equal to a task name (compared against, or
    passed anywhere)."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_no_task_name_outside_the_task_table():
    from yeehaw_tf.training.tasks import TASKS

    names = set(TASKS)
    assert {"classification", "segmentation"} <= names
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name!r}"
        for path in TASK_AGNOSTIC
        for line, name in _task_name_lines(path.read_text(), names)
    ]
    assert not found, "task names outside the TASKS table:\n" + "\n".join(found)


def test_the_task_name_check_finds_a_comparison():
    source = 'x = 1\nif config.task == "segmentation":\n    pass\n'
    assert _task_name_lines(source, {"segmentation"}) == [(2, "segmentation")]
