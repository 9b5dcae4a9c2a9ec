"""À trous convolution: the same DeepLab-style segmenter on a ResNet-18 at output stride 32, 16
and 8 (strides replaced by dilation in the last stages), one budget.

    python -m experiments.dilation [--epochs 20] [--dataset shapes/32x32] [--seed 0]

For each output stride S it runs

    python train.py --task=segmentation --model=deeplab_resnet18_osS --dataset=shapes/32x32 \\
        --epochs=20 --seed=0 --workdir=W/osS

and reports test mean IoU, parameters, FLOPs (cost_table, one image) and the receptive field
of the last feature map, and the 1-2-4 dilated 3x3 stack beside a plain one. Expected:
docs/dilation.md.
"""

from __future__ import annotations

import argparse
import os

from experiments.common import markdown, train, write


def stack_rows() -> list[list]:
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
        fields = [r["size"] for r in receptive_field(model)]
        rows.append(
            ["-".join(map(str, dilations)), total["params"], total["flops"], fields, "32x32"]
        )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.dilation")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dataset", default="shapes/32x32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/dilation")
    args = parser.parse_args(argv)
    from yeehaw_tf.analysis.cost import cost_table
    from yeehaw_tf.analysis.receptive_field import receptive_field
    from yeehaw_tf.models.registry import build

    results, rows = {}, []
    for stride in (32, 16, 8):
        name = f"deeplab_resnet18_os{stride}"
        summary = train(
            os.path.join(args.out, f"os{stride}"),
            task="segmentation",
            model=name,
            dataset=args.dataset,
            epochs=args.epochs,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        model = build(name, 4, (32, 32, 3))
        total = cost_table(model)[-1]
        field = next(r for r in receptive_field(model) if r["name"].startswith("layer4_1_2"))
        results[name] = {
            "mean_iou": summary["test"]["mean_iou"],
            "pixel_accuracy": summary["test"].get("pixel_accuracy"),
            "params": total["params"],
            "flops": total["flops"],
            "c5_receptive_field": field["size"],
            "c5_jump": field["jump"],
            "train_seconds": summary["train_seconds"],
        }
        r = results[name]
        rows.append(
            [
                stride,
                f"{r['mean_iou']:.3f}",
                f"{r['params']:,}",
                f"{r['flops'] / 1e6:.0f}M",
                f"{r['c5_receptive_field']} / {r['c5_jump']}",
                f"{r['train_seconds']:.0f}",
            ]
        )
    header = ["output stride", "test mIoU", "params", "FLOPs", "C5 RF / jump", "train s"]
    stack = markdown(["dilations", "params", "FLOPs", "receptive fields", "input"], stack_rows())
    write(args.out, "dilation", stack + "\n\n" + markdown(header, rows), results)


if __name__ == "__main__":
    main()
