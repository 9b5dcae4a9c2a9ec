"""Train, evaluate and export a model: ``python train.py --helpfull`` lists every flag.

With no flags: a compact ResNet on the built-in `digits` dataset, then SavedModel and TFLite
exports checked against the Keras model. ``--task=segmentation`` trains a U-Net on the built-in
`shapes` masks. Re-running with the same ``--workdir`` resumes.
"""

from __future__ import annotations

import os
import sys

# TensorFlow's C++ INFO/WARNING start-up lines drown the progress bar; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from yeehaw_tf.data.datasets import dataset_names  # noqa: E402
from yeehaw_tf.export.classifier import FORMATS  # noqa: E402
from yeehaw_tf.export.tflite import QUANTIZATIONS  # noqa: E402
from yeehaw_tf.layers import ACTIVATIONS, NORMALIZATIONS  # noqa: E402
from yeehaw_tf.models.registry import classifier_names, segmenter_names  # noqa: E402
from yeehaw_tf.optimizers import OPTIMIZERS, SCHEDULES  # noqa: E402
from yeehaw_tf.training.config import LOOPS, MIXED_PRECISION  # noqa: E402
from yeehaw_tf.training.tasks import TASK_DEFAULTS, task_names  # noqa: E402
from yeehaw_tf.training.tasks.classification import LOSSES  # noqa: E402

FLAGS = flags.FLAGS


def _defaults(key: str) -> str:
    return ", ".join(f"{task} {TASK_DEFAULTS[task][key]}" for task in task_names())


flags.DEFINE_string("task", "classification", f"What to train: one of {', '.join(task_names())}.")
flags.DEFINE_string(
    "model",
    None,
    f"Model name (default per task: {_defaults('model')}). Classifiers: "
    f"{', '.join(classifier_names())}. Segmenters: {', '.join(segmenter_names())}.",
)
flags.DEFINE_string(
    "dataset",
    None,
    f"Dataset name, optionally name/config (default per task: {_defaults('dataset')}): one of "
    f"{', '.join(dataset_names())}. Built-in datasets (digits, shapes) are generated offline; "
    "the others are downloaded by TFDS.",
)
flags.DEFINE_string("data_dir", None, "TFDS data directory (default ~/.cache/yeehaw_tf/...).")
flags.DEFINE_string(
    "workdir",
    None,
    "Where checkpoints, TensorBoard logs and exports go (default runs/<task>_<model>_<dataset>). "
    "Re-running with the same workdir resumes from its latest checkpoint.",
)
flags.DEFINE_integer("batch_size", 64, "Global batch size (split across replicas).", lower_bound=1)
flags.DEFINE_integer(
    "train_steps", None, "Total training steps (overrides --epochs).", lower_bound=1
)
flags.DEFINE_integer(
    "epochs",
    None,
    f"Epochs to train when --train_steps is not set (default per task: {_defaults('epochs')}).",
    lower_bound=1,
)
flags.DEFINE_enum(
    "optimizer",
    "adam",
    list(OPTIMIZERS),
    "sgd (plain), momentum (0.9), nesterov (0.9), adagrad, rmsprop, adam, adamw "
    "(needs --weight_decay).",
)
flags.DEFINE_float("learning_rate", 3e-3, "Peak learning rate.", lower_bound=0.0)
flags.DEFINE_enum(
    "lr_schedule",
    "cosine",
    list(SCHEDULES),
    "constant; step (x --lr_decay_factor at each of --lr_boundaries); exponential and inverse "
    "(--lr_decay_rate per --lr_decay_steps); inverse_sqrt (needs --warmup_steps); linear and "
    "cosine (to --end_learning_rate at the last step).",
)
flags.DEFINE_list("lr_boundaries", [], "Steps where lr_schedule=step decays, increasing.")
flags.DEFINE_float("lr_decay_factor", 0.1, "lr_schedule=step: multiplier at each boundary.")
flags.DEFINE_integer(
    "lr_decay_steps",
    None,
    "exponential/inverse: the step scale (default: a tenth of the run).",
    lower_bound=1,
)
flags.DEFINE_float("lr_decay_rate", 0.5, "exponential/inverse: the decay rate.", lower_bound=0.0)
flags.DEFINE_float("end_learning_rate", 0.0, "linear/cosine: the final learning rate.")
flags.DEFINE_integer(
    "warmup_steps",
    0,
    "Linear warm-up from 0 before the schedule (inverse_sqrt: its own).",
    lower_bound=0,
)
flags.DEFINE_float("momentum", None, "Momentum for sgd/momentum/nesterov/rmsprop only.")
flags.DEFINE_float("clipnorm", None, "Clip each gradient to this norm.")
flags.DEFINE_float("global_clipnorm", None, "Clip all gradients together to this global norm.")
flags.DEFINE_integer("checkpoint_every", 200, "Save a checkpoint every N steps.", lower_bound=1)
flags.DEFINE_integer(
    "steps_per_loop", 50, "Steps per compiled loop call between log lines.", lower_bound=1
)
flags.DEFINE_integer(
    "seed",
    0,
    "Seed for Python, NumPy, TensorFlow and the data order.",
    lower_bound=0,
    upper_bound=2**32 - 1,
)
flags.DEFINE_bool(
    "deterministic", False, "Deterministic TF ops (bit-identical reruns and resumes; slower)."
)
flags.DEFINE_enum("loop", "custom", LOOPS, "custom: our tf.function loop; fit: Keras fit.")
flags.DEFINE_integer(
    "num_cpu_devices",
    1,
    "Split the CPU into N logical devices and train with MirroredStrategy.",
    lower_bound=1,
)
flags.DEFINE_enum("mixed_precision", "none", MIXED_PRECISION, "Mixed-precision compute dtype.")
flags.DEFINE_bool(
    "jit_compile",
    None,
    "XLA-compile the step (default: on with a GPU, off on CPU where it is slower).",
)
flags.DEFINE_enum("activation", "relu", list(ACTIVATIONS), "The model's non-linearity.")
flags.DEFINE_enum(
    "norm",
    "batch",
    list(NORMALIZATIONS),
    "The model's normalisation: batch (synchronized across replicas), layer, group, instance.",
)
flags.DEFINE_float("dropout", 0.0, "Dropout rate before the classifier, in [0, 1).")
flags.DEFINE_enum("loss", "cross_entropy", list(LOSSES), "cross_entropy or hinge (multiclass SVM).")
flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing for the cross_entropy loss, [0, 1).")
flags.DEFINE_float(
    "weight_decay",
    0.0,
    "Decoupled weight decay applied by the optimizer (not to biases or normalisation parameters).",
    lower_bound=0.0,
)
flags.DEFINE_float("l1", 0.0, "L1 penalty on every kernel, added to the loss.", lower_bound=0.0)
flags.DEFINE_float(
    "l2",
    0.0,
    "L2 penalty on every kernel, added to the loss (with --l1: elastic net).",
    lower_bound=0.0,
)
flags.DEFINE_list(
    "image_size",
    None,
    "height,width the network sees (the model resizes its input first, so "
    "small datasets can train the ImageNet architectures; exports still take native images).",
)
flags.DEFINE_bool(
    "aux_logits",
    False,
    "Train the auxiliary classifiers (googlenet, inception_v3), loss "
    "weight 0.3; they are dropped for evaluation accuracy and export.",
)
flags.DEFINE_integer(
    "base_filters",
    None,
    "Width of segmentation models that take it (unet, segnet): filters of the first level.",
    lower_bound=1,
)
flags.DEFINE_enum(
    "on_nan",
    "raise",
    ["raise", "skip_step"],
    "A step whose loss or a gradient is NaN/Inf: raise (stop, naming the step and the tensor; "
    "the last checkpoint stays) or skip_step (leave the weights as they were, count it, go on).",
)
flags.DEFINE_bool("export", True, "Export SavedModel and TFLite after training.")
flags.DEFINE_multi_enum("formats", list(FORMATS), FORMATS, "Export formats.")
flags.DEFINE_multi_enum("quantize", list(QUANTIZATIONS), QUANTIZATIONS, "TFLite variants.")


def _validate_names(flag_values) -> bool:
    from yeehaw_tf.data.datasets import validate_dataset_name
    from yeehaw_tf.models.registry import get_classifier, get_segmenter
    from yeehaw_tf.training.tasks import validate_task_name

    try:
        task = validate_task_name(flag_values["task"])
        if flag_values["model"] is not None:
            (get_segmenter if task == "segmentation" else get_classifier)(flag_values["model"])
        if flag_values["dataset"] is not None:
            validate_dataset_name(flag_values["dataset"])
    except ValueError as e:
        raise flags.ValidationError(str(e)) from None
    return True


flags.register_multi_flags_validator(["task", "model", "dataset"], _validate_names)


def _integers(name: str, values: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(f"--{name} takes integers, got {','.join(values)}") from None


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow_datasets as tfds

    from yeehaw_tf.training import TrainConfig, configure_cpu_devices, format_summary
    from yeehaw_tf.training.experiment import run_experiment
    from yeehaw_tf.training.trainer import CheckpointError, NonFiniteError

    tfds.disable_progress_bar()
    if not FLAGS["verbosity"].present:  # TF and TFDS log a lot at INFO; --verbosity=0 shows it
        logging.set_verbosity(logging.WARNING)
    if FLAGS.num_cpu_devices > 1:
        configure_cpu_devices(FLAGS.num_cpu_devices)  # before any TF op runs
    defaults = TASK_DEFAULTS[FLAGS.task]
    model = FLAGS.model or defaults["model"]
    dataset = FLAGS.dataset or defaults["dataset"]
    workdir = FLAGS.workdir or os.path.join(
        "runs", f"{FLAGS.task}_{model}_{dataset.replace('/', '-')}"
    )
    print(f"workdir: {os.path.abspath(workdir)}", flush=True)
    try:
        config = TrainConfig(
            workdir=workdir,
            task=FLAGS.task,
            model=model,
            dataset=dataset,
            data_dir=FLAGS.data_dir,
            batch_size=FLAGS.batch_size,
            train_steps=FLAGS.train_steps,
            epochs=FLAGS.epochs or defaults["epochs"],
            optimizer=FLAGS.optimizer,
            learning_rate=FLAGS.learning_rate,
            checkpoint_every=FLAGS.checkpoint_every,
            steps_per_loop=FLAGS.steps_per_loop,
            seed=FLAGS.seed,
            deterministic=FLAGS.deterministic,
            loop=FLAGS.loop,
            num_cpu_devices=FLAGS.num_cpu_devices,
            mixed_precision=FLAGS.mixed_precision,
            jit_compile=FLAGS.jit_compile,
            activation=FLAGS.activation,
            norm=FLAGS.norm,
            dropout=FLAGS.dropout,
            loss=FLAGS.loss,
            label_smoothing=FLAGS.label_smoothing,
            weight_decay=FLAGS.weight_decay,
            lr_schedule=FLAGS.lr_schedule,
            lr_boundaries=_integers("lr_boundaries", FLAGS.lr_boundaries),
            lr_decay_factor=FLAGS.lr_decay_factor,
            lr_decay_steps=FLAGS.lr_decay_steps,
            lr_decay_rate=FLAGS.lr_decay_rate,
            end_learning_rate=FLAGS.end_learning_rate,
            warmup_steps=FLAGS.warmup_steps,
            momentum=FLAGS.momentum,
            clipnorm=FLAGS.clipnorm,
            global_clipnorm=FLAGS.global_clipnorm,
            l1=FLAGS.l1,
            l2=FLAGS.l2,
            image_size=_integers("image_size", FLAGS.image_size) if FLAGS.image_size else None,
            aux_logits=FLAGS.aux_logits,
            base_filters=FLAGS.base_filters,
            on_nan=FLAGS.on_nan,
            export=FLAGS.export,
            formats=tuple(FLAGS.formats),
            quantize=tuple(FLAGS.quantize),
        )
        summary = run_experiment(config, verbose=1)
    except (ValueError, CheckpointError, NonFiniteError) as e:  # a clear message, no traceback
        print(f"train.py: error: {e}", file=sys.stderr)
        return 1
    print(format_summary(summary), flush=True)
    return 1 if "export_error" in summary else 0


if __name__ == "__main__":
    sys.exit(app.run(main))
