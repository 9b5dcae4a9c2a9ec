"""absl flags generated from the configuration dataclasses, so each default lives in one place.

Common fields of :class:`~yeehaw_tf.training.config.TrainConfig` become flags with their
defaults; every task's options become flags grouped by task in ``--helpfull``. An option that
several tasks share is one flag (its default ``None`` means "the chosen task's default", which
its help lists per task). :func:`config_from_flags` turns the parsed flags into a configuration,
refusing an option given on the command line that the chosen task does not have.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing

from absl import flags

from yeehaw_tf.training.config import common_fields, make_config
from yeehaw_tf.training.tasks import TASKS

# Common fields that are not flags (the workdir's default depends on the task and model).
NOT_FLAGS = ("options",)


def _kind(field: dataclasses.Field, owner: type) -> tuple[type, bool]:
    """``(element type, is_sequence)`` of a dataclass field (``X | None`` unwrapped)."""
    annotation = typing.get_type_hints(owner)[field.name]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = args[0]
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _choices(field: dataclasses.Field) -> list | None:
    choices = field.metadata.get("choices")
    if choices is None:
        return None
    return [str(c) for c in (choices() if callable(choices) else choices)]


def _define(name: str, default, help_text: str, kind: type, sequence: bool, choices, module: str):
    common = {"module_name": module}
    if sequence and choices:
        return flags.DEFINE_multi_enum(name, default, choices, help_text, **common)
    if sequence:
        default = None if default is None else [str(v) for v in default]
        return flags.DEFINE_list(name, default, help_text, **common)
    if kind is bool:
        return flags.DEFINE_bool(name, default, help_text, **common)
    if choices:
        return flags.DEFINE_enum(name, default, choices, help_text, **common)
    define = {int: flags.DEFINE_integer, float: flags.DEFINE_float}.get(kind, flags.DEFINE_string)
    return define(name, default, help_text, **common)


def define_train_flags() -> None:
    """Defines ``train.py``'s flags: the common fields, then every task's options."""
    from yeehaw_tf.training.config import TrainConfig

    for field in common_fields():
        if field.name in NOT_FLAGS:
            continue
        kind, sequence = _kind(field, TrainConfig)
        default = field.default
        if field.name == "workdir":
            default = None
            help_text = field.metadata["help"] + (
                " Default runs/<task>_<model>_<dataset>; re-running with the same workdir "
                "resumes from its latest checkpoint."
            )
        else:
            help_text = field.metadata.get("help", "")
        if sequence and not _choices(field):
            default = list(default) if default else None
        _define(field.name, default, help_text, kind, sequence, _choices(field), "run options")
    for name, (owners, field, owner_type) in task_option_fields().items():
        kind, sequence = _kind(field, owner_type)
        fields = {task: _field(task, name) for task in owners}
        helps = {task: f.metadata.get("help", "") for task, f in fields.items()}
        if len(set(helps.values())) == 1:
            help_text = field.metadata.get("help", "")
        else:
            help_text = " ".join(f"{task}: {text}" for task, text in helps.items())
        defaults = "; ".join(f"{task}: {_shown(f.default)}" for task, f in fields.items())
        choices = None
        if all(_choices(f) for f in fields.values()):
            choices = list(dict.fromkeys(c for f in fields.values() for c in _choices(f)))
        module = f"task options: {owners[0]}" if len(owners) == 1 else "task options: shared"
        _define(name, None, f"{help_text} [default: {defaults}]", kind, sequence, choices, module)


def _field(task: str, name: str) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(TASKS[task].Options)}[name]


def _shown(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def task_option_fields() -> dict[str, tuple[list[str], dataclasses.Field, type]]:
    """Every task option name -> (the tasks that have it, its field, an options class)."""
    common = {f.name for f in common_fields()}
    found: dict[str, tuple[list[str], dataclasses.Field, type]] = {}
    for task, cls in sorted(TASKS.items()):
        for field in dataclasses.fields(cls.Options):
            if field.name in common:
                raise ValueError(f"task {task!r} option {field.name!r} shadows a common field")
            if field.name in found:
                found[field.name][0].append(task)
            else:
                found[field.name] = ([task], field, cls.Options)
    return found


def _convert(name: str, value, kind: type, sequence: bool):
    if value is None or not sequence:
        return value
    try:
        return tuple(kind(v) for v in value)
    except ValueError:
        what = {int: "integers", float: "numbers"}.get(kind, "values")
        raise ValueError(f"--{name} takes {what}, got {','.join(value)}") from None


def config_from_flags(values: flags.FlagValues):
    """The configuration the parsed flags describe (see :func:`make_config`); without
    ``--workdir``, ``runs/<task>_<model>_<dataset>``."""
    from yeehaw_tf.training.config import TrainConfig

    chosen = {}
    for field in common_fields():
        if field.name in NOT_FLAGS or field.name == "workdir":
            continue
        kind, sequence = _kind(field, TrainConfig)
        chosen[field.name] = _convert(field.name, values[field.name].value, kind, sequence)
    task_options = dataclasses.fields(TASKS[chosen["task"]].Options)
    own = {f.name for f in task_options}
    for name, (_, field, owner_type) in task_option_fields().items():
        flag = values[name]
        if name not in own:
            if flag.present:
                make_config(task=chosen["task"], **{name: flag.value})  # raises, naming it
            continue
        if flag.value is not None:
            kind, sequence = _kind(field, owner_type)
            chosen[name] = _convert(name, flag.value, kind, sequence)
    config = make_config(workdir=values["workdir"].value or "runs", **chosen)
    if values["workdir"].value:
        return config
    name = f"{config.task}_{config.model}_{config.dataset.replace('/', '-')}"
    return dataclasses.replace(config, workdir=os.path.join("runs", name))
