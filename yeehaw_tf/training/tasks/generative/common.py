"""What the generative tasks share: the images and their record, seeded latents, periodic
sample grids, and scoring after training."""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.training.tasks.base import Task, TaskData
from yeehaw_tf.training.tasks.generative.data import image_pipeline, load_images
from yeehaw_tf.training.tasks.generative.pictures import image_grid, write_png
from yeehaw_tf.training.tasks.generative.scoring import load_scorer, score_images, score_rows

SCORES_FILE = "scores.json"
GRID_IMAGES = 64
GRID_SEED = 1234  # every grid of a run shows the same latents, so the grids show progress


def seeded_normal(shape, seed) -> tf.Tensor:
    """Standard normal values from an integer ``seed`` (stateless: the same seed, the same
    values, in Python, in a ``tf.function`` and in a SavedModel alike)."""
    seed = tf.cast(seed, tf.int64)
    return tf.random.stateless_normal(shape, tf.stack([seed, tf.constant(0, tf.int64)]))


class GenerativeTask(Task):
    """Base of ``gan``, ``vae`` and ``diffusion``: subclasses implement :meth:`generate`
    (uint8 images from a seed) and the models and step."""

    def __init__(self, options, *, image_shape, num_classes: int, data_dir: str | None = None):
        super().__init__(options)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes)
        self.data_dir = data_dir
        self.scores: dict = {}
        self.reference: dict = {}
        self._scorer = None  # loaded once, for every sampler a run scores

    @classmethod
    def load_data(cls, options, data_dir: str | None) -> TaskData:
        return load_images(options.dataset, data_dir)

    @classmethod
    def from_data(cls, options, data: TaskData):
        return cls(
            options,
            image_shape=data.info["image_shape"],
            num_classes=data.info["num_classes"],
            data_dir=data.info.get("data_dir"),
        )

    def _record(self) -> dict:
        return {"image_shape": list(self.image_shape), "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, record):
        return cls(
            cls.Options.from_dict(record["options"]),
            image_shape=tuple(record["image_shape"]),
            num_classes=record["num_classes"],
        )

    def train_dataset(self, data, batch_size, seed):
        return image_pipeline(data.train, batch_size, True, seed)

    def eval_dataset(self, data, batch_size):
        return image_pipeline(data.test, batch_size, False)

    # ----------------------------------------------------------------------------- sampling
    def generate(self, models, num_images: int, seed: int) -> np.ndarray:
        """uint8 images ``[num_images, H, W, C]`` from ``seed``."""
        raise NotImplementedError

    def log_progress(self, models, step, previous, workdir, writer) -> None:
        every = self.options.sample_every
        if step // every == previous // every:
            return
        images = self.generate(models, GRID_IMAGES, GRID_SEED)
        grid = image_grid(images, columns=8)
        write_png(os.path.join(workdir, "samples", f"step_{step:07d}.png"), grid)
        with writer.as_default(step=step):
            tf.summary.image("samples", grid[None], step=step)

    # ----------------------------------------------------------------------------- results
    def score(self, models_or_model, data: TaskData, **generate_args) -> dict:
        """Inception score and FID (our scorer) of ``num_scored`` generated images (none if 0)."""
        if not self.options.num_scored:
            return {}
        if self._scorer is None:
            self._scorer, self.reference = load_scorer(data, self.data_dir)
        images = self.generate(models_or_model, self.options.num_scored, 0, **generate_args)
        return score_images(self._scorer, images)

    def write_scores(self, workdir: str, extra: dict | None = None) -> str:
        path = os.path.join(workdir, SCORES_FILE)
        content = {"scores": self.scores, "reference": self.reference, **(extra or {})}
        atomic_write_text(path, json.dumps(content, indent=2))
        return path

    def summary_rows(self, evaluation):
        rows = score_rows(self.scores, self.reference) if self.reference else []
        return [*rows, *super().summary_rows(evaluation)]
