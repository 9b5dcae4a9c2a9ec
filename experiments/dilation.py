"""À trous convolution: the same DeepLab-style segmenter on a ResNet-18 (base width 16) at
output stride 32, 16 and 8 (strides replaced by dilation in the last stages), one budget.

    python -m experiments.dilation [--epochs 6] [--base_filters 16] [--dataset shapes] [--seed 0]

For each output stride S it runs (the segmentation task's default budget, 6 epochs of
``shapes/64x64``, batch 64, Adam 3e-3)

    python train.py --task=segmentation --model=deeplab_resnet18_osS --base_filters=16 \\
        --dataset=shapes --epochs=6 --seed=0 --workdir=W/osS

and reports test mean IoU and pixel accuracy, parameters, FLOPs (``cost_table``: multiply-adds
for one image), the size, receptive field and jump of the last feature map ``C5``, and the
1-2-4 dilated 3x3 stack beside a plain one. A finished workdir is evaluated again, not
retrained. Expected (docs/dilation.md): the same 852,980 parameters and the same 435-pixel
receptive field at every stride; FLOPs 1 : 1.7 : 5.0; mean IoU rising with the resolution.
"""

from __future__ import annotations

import argparse
import json
import os

from experiments.common import markdown, train, write

STRIDES = (32, 16, 8)


def stack_rows() -> list[list]:
    """Three 3x3 convolutions (8 -> 8 channels, 32x32): dilations 1-1-1 and 1-2-4."""
    import keras

    from yeehaw_tf.analysis.cost import cost_table
    from yeehaw_tf.analysis.receptive_field import receptive_field
    from yeehaw_tf.layers.conv_blocks import conv

    rows = []
    for dilations in ((1, 1, 1), (1, 2, 4)):
        inputs = keras.Input((32, 32, 8))
        x = inputs
        for i, d in enumerate(dilations):
            x = conv(x, 8, 3, 1, d, dilation=d, name=f"conv{i + 1}")
        model = keras.Model(inputs, x)
        total = cost_table(model)[-1]
        fields = ", ".join(str(int(r["size"])) for r in receptive_field(model))
        rows.append(
            ["-".join(map(str, dilations)), f"{total['params']:,}", f"{total['flops']:,}", fields]
        )
    return rows


def measure(name: str, num_classes: int, input_shape, base_filters: int) -> dict:
    """Parameters, FLOPs and the C5 feature map's size, receptive field and jump."""
    from yeehaw_tf.analysis.cost import cost_table
    from yeehaw_tf.analysis.receptive_field import receptive_field
    from yeehaw_tf.models.registry import build

    model = build(name, num_classes, tuple(input_shape), base_filters=base_filters)
    total = cost_table(model)[-1]
    c5 = model.get_layer("layer4_1_out")
    field = next(r for r in receptive_field(model) if r["name"] == c5.name)
    return {
        "params": total["params"],
        "flops": total["flops"],
        "c5_size": int(c5.output.shape[1]),
        "c5_receptive_field": int(field["size"]),
        "c5_jump": int(field["jump"]),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.dilation")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--base_filters", type=int, default=16)
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/dilation")
    args = parser.parse_args(argv)

    results, rows = {}, []
    for stride in STRIDES:
        name = f"deeplab_resnet18_os{stride}"
        summary = train(
            os.path.join(args.out, f"os{stride}"),
            task="segmentation",
            model=name,
            base_filters=args.base_filters,
            dataset=args.dataset,
            epochs=args.epochs,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        with open(os.path.join(summary["workdir"], "config.json")) as f:
            task = json.load(f)["task"]  # the run's record: classes and image shape
        r = {
            "mean_iou": float(summary["test"]["mean_iou"]),
            "pixel_accuracy": float(summary["test"]["accuracy"]),
            "train_seconds": float(summary["train_seconds"]),
            **measure(name, task["num_classes"], task["input_shape"], args.base_filters),
        }
        results[name] = r
        rows.append(
            [
                stride,
                f"{r['mean_iou']:.4f}",
                f"{r['pixel_accuracy']:.4f}",
                f"{r['params']:,}",
                f"{r['flops'] / 1e6:.1f}M",
                f"{r['c5_size']}x{r['c5_size']}",
                f"{r['c5_receptive_field']} / {r['c5_jump']}",
                f"{r['train_seconds']:.0f}",
            ]
        )
    header = [
        "output stride",
        "test mIoU",
        "pixel acc.",
        "params",
        "FLOPs (mult-adds)",
        "C5 size",
        "C5 RF / jump",
        "train s",
    ]
    stack = markdown(["dilations", "params", "FLOPs (32x32)", "receptive fields"], stack_rows())
    write(args.out, "dilation", stack + "\n\n" + markdown(header, rows), results)


if __name__ == "__main__":
    main()
