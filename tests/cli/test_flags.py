"""train.py's flags are generated from the configuration dataclasses and grouped by task."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import run_cli
from yeehaw_tf.training.config import TrainConfig, common_fields, make_config
from yeehaw_tf.training.tasks import TASKS


def test_helpfull_groups_the_options_by_task_with_each_tasks_default():
    text = run_cli("train.py", "--helpfull").stdout  # absl exits 1 after printing help
    for group in (
        "run options:",
        "task options: distillation:",  # its own options; the classifier's are shared with it
        "task options: segmentation:",
        "task options: shared:",
    ):
        assert group in text
    distillation = text.split("task options: distillation:")[1].split("task options:")[0]
    assert "--teacher" in distillation and "--activation" not in distillation
    segmentation = text.split("task options: segmentation:")[1].split("task options:")[0]
    assert "--base_filters" in segmentation and "--activation" not in segmentation
    shared = " ".join(text.split("task options: shared:")[1].split())
    defaults = (
        "classification: small_resnet; detection: retinanet_small; diffusion: ddpm_unet; "
        "distillation: mlp; gan: dcgan; segmentation: unet"
    )
    assert defaults in shared
    assert "--activation" in shared
    # every field of every dataclass is a flag
    names = [f.name for f in common_fields() if f.name != "options"]
    names += [f.name for task in TASKS.values() for f in dataclasses.fields(task.Options)]
    for name in names:
        assert f"--{name}" in text or f"--[no]{name}" in text, name


def test_an_option_of_another_task_is_refused_naming_it_and_the_task():
    result = run_cli("train.py", "--task=segmentation", "--activation=elu", "--train_steps=1")
    assert result.returncode == 1
    assert "option 'activation' does not apply to task 'segmentation'" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_config_splits_common_fields_and_task_options():
    config = make_config(workdir="w", task="segmentation", base_filters=8, batch_size=16)
    assert config.options.base_filters == 8 and config.batch_size == 16
    assert config.model == "unet" and config.dataset == "shapes"  # the task's defaults
    assert make_config(workdir="w").options == TASKS["classification"].Options()
    with pytest.raises(ValueError, match="'base_filters' does not apply to task 'classification'"):
        make_config(workdir="w", base_filters=8)
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        make_config(workdir="w", colour="red")
    with pytest.raises(ValueError, match="options for task 'segmentation' must be"):
        TrainConfig(workdir="w", task="segmentation", options=TASKS["classification"].Options())


def test_task_options_validate_themselves_without_building_a_model():
    options = TASKS["classification"].Options
    with pytest.raises(ValueError, match="unknown model"):
        options(model="no_such_net")
    with pytest.raises(ValueError, match="does not offer the activation option"):
        options(model="alexnet", activation="elu")
    with pytest.raises(ValueError, match="dropout must be in"):
        TASKS["segmentation"].Options(dropout=1.5)
