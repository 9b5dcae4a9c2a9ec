"""The accuracy-under-attack report: its counts, its table and its files."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax
from yeehaw_tf.attacks import ATTACKS, adversarial_examples, attack_report, fgsm, format_report
from yeehaw_tf.attacks.pictures import plot_examples
from yeehaw_tf.attacks.report import write_report

SHAPE = (4, 4, 2)


@pytest.fixture(scope="module")
def setting():
    reference = LinearSoftmax.random(SHAPE, classes=5, seed=9)
    model = reference.keras_model(SHAPE)
    images = np.random.default_rng(10).integers(0, 256, (40, *SHAPE)).astype(np.float32)
    labels = tf.argmax(model(images), axis=-1)  # clean accuracy 1: every drop is the attack's
    return reference, model, images, labels


@pytest.fixture(scope="module")
def report(setting):
    _, model, images, labels = setting
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)  # 16, 16, 8, cut to 5
    return attack_report(model, data, [0, 8, 32], list(ATTACKS), max_examples=37)


def test_the_report_counts_accuracy_per_attack_and_epsilon(setting, report):
    reference, model, images, labels = setting
    assert report["num_examples"] == 37 and report["clean_accuracy"] == 1.0
    assert report["epsilons"] == [0.0, 8.0, 32.0] and list(report["attacks"]) == list(ATTACKS)
    target = np.argmin(reference.logits(images[:37].astype(np.float64)), axis=1)
    for name, rows in report["attacks"].items():
        assert [row["epsilon"] for row in rows] == report["epsilons"]
        assert rows[0]["accuracy"] == 1.0 and rows[0]["least_likely_rate"] == 0.0
        assert rows[2]["accuracy"] < rows[0]["accuracy"], name
        for row in rows:  # recounted from the attack itself
            x = ATTACKS[name](model, images[:37], labels[:37], row["epsilon"])
            predicted = np.argmax(reference.logits(x.numpy().astype(np.float64)), axis=1)
            assert row["accuracy"] == pytest.approx(np.mean(predicted == labels.numpy()[:37]))
            assert row["least_likely_rate"] == pytest.approx(np.mean(predicted == target))
    hit_rate = {name: rows[2]["least_likely_rate"] for name, rows in report["attacks"].items()}
    assert hit_rate["least_likely"] > max(0.25, hit_rate["fgsm"], hit_rate["iterative_fgsm"])


def test_the_table_has_a_row_per_epsilon_and_a_column_per_attack(report):
    text = format_report(report)
    assert text.startswith("37 test examples, clean accuracy 1.0000")
    header = next(line for line in text.splitlines() if line.lstrip().startswith("epsilon"))
    assert header.split() == ["epsilon", *ATTACKS]
    fgsm_at_8 = report["attacks"]["fgsm"][1]["accuracy"]
    assert any(line.split()[:2] == ["8", f"{fgsm_at_8:.4f}"] for line in text.splitlines())


def test_the_files_are_written(setting, report, tmp_path):
    _, model, images, labels = setting
    paths = write_report(str(tmp_path / "attacks"), report)
    with open(paths["report.json"]) as f:
        assert json.load(f) == report
    adversarial, predictions = adversarial_examples(model, images[:3], labels[:3], 8.0, ATTACKS)
    np.testing.assert_array_equal(
        adversarial["fgsm"], fgsm(model, images[:3], labels[:3], 8.0).numpy()
    )
    assert set(predictions) == {"clean", *ATTACKS} and predictions["clean"].shape == (3,)
    # a 2-channel image is not a picture: show the first channel as grey
    plot_examples(
        str(tmp_path / "attacks" / "examples.png"),
        images[:3, ..., :1],
        labels.numpy()[:3],
        {k: v[..., :1] for k, v in adversarial.items()},
        predictions,
        8.0,
        class_names=[f"class {i}" for i in range(5)],
    )
    names = sorted(os.listdir(tmp_path / "attacks"))
    assert names == ["accuracy_vs_epsilon.png", "examples.png", "report.json"]  # no temporaries
    for name in ("accuracy_vs_epsilon.png", "examples.png"):
        with open(tmp_path / "attacks" / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_examples_refuses_images_without_a_batch(tmp_path):
    with pytest.raises(ValueError, match=r"plot_examples: images must be \[N, H, W, C\]"):
        plot_examples(str(tmp_path / "x.png"), np.zeros((4, 4, 1)), np.zeros(4), {}, {}, 1.0)
