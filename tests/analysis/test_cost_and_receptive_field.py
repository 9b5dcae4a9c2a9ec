import keras
import pytest

from tests.helpers import run_cli
from yeehaw_tf.analysis import cost_table, format_table, receptive_field
from yeehaw_tf.layers.conv_blocks import conv, conv_output_size
from yeehaw_tf.models import build


def _by_name(rows):
    return {r["name"]: r for r in rows}


def test_flops_memory_and_params_of_each_layer_type_by_hand():
    inputs = keras.Input((10, 10, 8))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv")(inputs)  # 5x5x16
    x = keras.layers.Conv2D(16, 3, padding="same", groups=4, name="grouped")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)  # 2x2x16
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(7, name="fc")(x)
    rows = _by_name(cost_table(keras.Model(inputs, x)))
    assert rows["conv"]["flops"] == 5 * 5 * 16 * (3 * 3 * 8)
    assert rows["conv"]["params"] == 3 * 3 * 8 * 16 + 16
    assert rows["conv"]["memory_kb"] == 5 * 5 * 16 * 4 / 1024
    assert rows["grouped"]["flops"] == 5 * 5 * 16 * (3 * 3 * 16 // 4)
    assert rows["grouped"]["params"] == 3 * 3 * 4 * 16 + 16
    assert rows["depthwise"]["flops"] == 5 * 5 * 16 * 9
    assert rows["pool"]["flops"] == 0 and rows["pool"]["output_size"] == "2x2"
    assert rows["fc"]["flops"] == 64 * 7 and rows["fc"]["params"] == 64 * 7 + 7
    assert (rows["conv"]["kernel"], rows["conv"]["stride"]) == ("3x3", "2x2")


@pytest.mark.parametrize(
    "name, shape",
    [("alexnet", (227, 227, 3)), ("resnet18", (64, 64, 3)), ("densenet121", (64, 64, 3))],
)
def test_totals_equal_count_params(name, shape):
    model = build(name, 1000, shape)
    rows = cost_table(model)
    assert rows[-1]["name"] == "total"
    assert rows[-1]["params"] == model.count_params()
    assert rows[-1]["flops"] == sum(r["flops"] for r in rows[:-1])


def test_alexnet_shows_the_lectures_observations():
    rows = cost_table(build("alexnet", 1000, (227, 227, 3)))[:-1]
    convs = [r for r in rows if r["type"] == "Conv2D"]
    dense = [r for r in rows if r["type"] == "Dense"]
    assert sum(r["params"] for r in dense) > 0.9 * sum(r["params"] for r in rows)  # params: FC
    assert sum(r["flops"] for r in convs) > 0.9 * sum(r["flops"] for r in rows)  # FLOPs: convs
    assert max(rows, key=lambda r: r["memory_kb"])["name"].startswith("conv1")  # memory: early
    # AlexNet at 227: ~0.7 GFLOPs (multiply-adds), the usual figure for torchvision's variant
    assert 0.65e9 < sum(r["flops"] for r in rows) < 0.75e9


def test_formats_and_a_changed_input_shape():
    model = build("lenet5", 10, (32, 32, 1))
    assert "| total |" in format_table(cost_table(model), "markdown")
    csv = format_table(cost_table(model), "csv")
    assert csv.splitlines()[0].startswith("name,type") and "61706" in csv
    bigger = cost_table(model, (36, 36, 1))
    assert _by_name(bigger)["c1"]["output_size"] == "32x32"
    with pytest.raises(ValueError, match="format"):
        format_table([], "xml")


@pytest.mark.parametrize("layers_, kernel", [(1, 3), (4, 3), (3, 5), (6, 7)])
def test_stacked_stride_1_convs_see_1_plus_L_times_K_minus_1(layers_, kernel):
    inputs = keras.Input((64, 64, 1))
    x = inputs
    for i in range(layers_):
        x = keras.layers.Conv2D(2, kernel, padding="same", name=f"c{i}")(x)
    rows = receptive_field(keras.Model(inputs, x))
    assert rows[-1]["size"] == 1 + layers_ * (kernel - 1)
    assert rows[-1]["jump"] == 1


def test_strides_dilation_and_branches():
    inputs = keras.Input((64, 64, 1))
    a = keras.layers.Conv2D(2, 3, strides=2, name="a")(inputs)  # size 3, jump 2, start 1.5
    b = keras.layers.Conv2D(2, 3, dilation_rate=2, name="b")(a)  # k_eff 5: size 3 + 4*2 = 11
    c = keras.layers.Conv2D(2, 1, name="c")(a)  # branch that adds nothing
    b = keras.layers.Cropping2D(((0, 0), (0, 0)), name="crop")(b)
    merged = keras.layers.Concatenate(name="cat")(
        [keras.layers.Cropping2D(((2, 2), (2, 2)), name="c_crop")(c), b]
    )
    rows = _by_name(receptive_field(keras.Model(inputs, merged)))
    assert (rows["a"]["size"], rows["a"]["jump"], rows["a"]["start"]) == (3, 2, 1.5)
    assert (rows["b"]["size"], rows["b"]["jump"]) == (11, 2)
    assert rows["cat"]["size"] == 11  # the largest field among the merged paths


def test_known_receptive_fields_of_vgg16_and_resnet18():
    vgg = _by_name(receptive_field(build("vgg16")))
    assert vgg["pool5"]["size"] == 212 and vgg["pool5"]["jump"] == 32
    resnet = _by_name(receptive_field(build("resnet18")))
    assert resnet["layer4_1_out"]["size"] == 435


def test_output_size_formula_and_a_clear_error_naming_the_layer():
    assert conv_output_size(227, 11, 4, 0) == 55
    assert conv_output_size(224, 3, 2, 1) == 112
    assert conv_output_size(7, 3, 2, 0, ceil_mode=True) == 3
    assert conv_output_size(10, 3, 1, 0, dilation=2) == 6
    with pytest.raises(ValueError, match="layer 'tiny'.*output height 0"):
        conv(keras.Input((4, 4, 1)), 2, 5, name="tiny")


def test_analysis_cli():
    result = run_cli(
        "-m",
        "yeehaw_tf.analysis",
        "--model",
        "lenet5",
        "--input_shape",
        "32,32,1",
        "--num_classes",
        "10",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("total,") and "61706" in result.stdout
    bad = run_cli("-m", "yeehaw_tf.analysis", "--model", "lenet9")
    assert bad.returncode != 0 and "valid names" in bad.stderr
