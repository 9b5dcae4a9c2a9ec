"""Training-time augmentation: named, seeded, resumable policies built from Keras's layers.

``policy_names(kind)`` lists the policies of a task kind; the pipelines
(``classification_pipeline``, ``segmentation_pipeline``, ``detection_pipeline``) take one by
name as ``augment=`` and apply it, in training only, after shuffle and repeat. See
``docs/augmentation.md``.
"""

from yeehaw_tf.data.augmentation.augmenters import (
    classification_augmenter,
    detection_augmenter,
    segmentation_augmenter,
)
from yeehaw_tf.data.augmentation.boxes import MAX_BOXES, clean_boxes
from yeehaw_tf.data.augmentation.mixing import batch_seed, mixing_augmenter
from yeehaw_tf.data.augmentation.pad_crop import RandomPadCrop
from yeehaw_tf.data.augmentation.policies import (
    KINDS,
    POLICIES,
    Policy,
    get_policy,
    policy_names,
    validate_policy,
)
from yeehaw_tf.data.augmentation.rand_augment import SeededRandAugment
from yeehaw_tf.data.augmentation.seeding import StatelessSeedGenerator, element_seed
from yeehaw_tf.data.augmentation.transform import apply_layers

__all__ = [
    "KINDS",
    "MAX_BOXES",
    "POLICIES",
    "Policy",
    "RandomPadCrop",
    "SeededRandAugment",
    "StatelessSeedGenerator",
    "apply_layers",
    "batch_seed",
    "classification_augmenter",
    "clean_boxes",
    "detection_augmenter",
    "element_seed",
    "get_policy",
    "mixing_augmenter",
    "policy_names",
    "segmentation_augmenter",
    "validate_policy",
]
