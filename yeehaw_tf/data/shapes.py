"""The `shapes` built-in dataset: procedural scenes of circles, squares and triangles.

Every example has exact labels for classification, detection and segmentation:

- ``image``: uint8 ``(S, S, 3)``;
- ``label``: the class of the largest object (image-level classification);
- ``segmentation_mask``: uint8 ``(S, S, 1)``, 0 for background and ``class + 1`` on objects;
- ``objects``: a sequence with, per object, ``bbox`` (TFDS ``BBox``: relative
  ``[ymin, xmin, ymax, xmax]``, Keras's ``rel_yxyx``), ``label``, ``area`` (pixels) and
  ``mask`` (uint8 ``(S, S, 1)`` in {0, 1}).

Scenes are deterministic: example ``i`` of split ``s`` is drawn from
``numpy.random.default_rng([config.seed, SPLIT_IDS[s], i])``. Configs choose the image size, the
number of objects, their sizes, whether they may occlude each other (``crowded128``) and the split
sizes; ``shapes`` alone means ``shapes/64x64``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from yeehaw_tf.data.shapes_scenes import CLASS_NAMES, render_scene

SPLIT_IDS = {"train": 0, "test": 1}


@dataclasses.dataclass
class ShapesConfig(tfds.core.BuilderConfig):
    image_size: int = 64
    max_objects: int = 4
    num_train: int = 4000
    num_test: int = 800
    seed: int = 0
    min_size: int | None = None  # None: the renderer's default (image_size // 8)
    max_size: int | None = None  # None: image_size // 3
    occlusion: bool = False


class Shapes(tfds.core.GeneratorBasedBuilder):
    """Procedurally generated shapes with exact boxes, instance masks and semantic masks."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Circles, squares and triangles; non-overlapping; exact labels."}
    BUILDER_CONFIGS = [
        ShapesConfig(name="64x64", description="64x64 scenes, 1-4 objects, 4000/800 split."),
        ShapesConfig(
            name="32x32",
            description="32x32 scenes, 1-3 objects, 1024/256 split (quick experiments).",
            image_size=32,
            max_objects=3,
            num_train=1024,
            num_test=256,
        ),
        ShapesConfig(
            name="crowded128",
            description=(
                "128x128 scenes, 1-12 objects of 4-100 pixels that may occlude each other "
                "(boxes and masks of the visible part, as COCO), 4000/800 split: a detection "
                "benchmark in which several pyramid levels matter."
            ),
            image_size=128,
            max_objects=12,
            min_size=4,
            max_size=100,
            occlusion=True,
        ),
        ShapesConfig(
            name="tiny",
            description="32x32 scenes, 1-3 objects, 64/16 split (unit tests).",
            image_size=32,
            max_objects=3,
            num_train=64,
            num_test=16,
        ),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.image_size
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(size, size, 3)),
                    "label": tfds.features.ClassLabel(names=CLASS_NAMES),
                    "segmentation_mask": tfds.features.Image(shape=(size, size, 1)),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
                            "area": tfds.features.Scalar(dtype=np.int64),
                            "mask": tfds.features.Image(shape=(size, size, 1)),
                        }
                    ),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        config = self.builder_config
        return {
            "train": self._generate_examples("train", config.num_train),
            "test": self._generate_examples("test", config.num_test),
        }

    def _generate_examples(self, split: str, num_examples: int):
        config = self.builder_config
        for index in range(num_examples):
            rng = np.random.default_rng([config.seed, SPLIT_IDS[split], index])
            scene = render_scene(
                rng,
                config.image_size,
                config.max_objects,
                min_size=config.min_size,
                max_size=config.max_size,
                occlusion=config.occlusion,
            )
            yield (
                index,
                {
                    "image": scene.image,
                    "label": scene.label,
                    "segmentation_mask": scene.semantic_mask[..., None],
                    "objects": {
                        "bbox": scene.boxes,
                        "label": scene.labels,
                        "area": scene.areas,
                        "mask": scene.masks[..., None],
                    },
                },
            )
