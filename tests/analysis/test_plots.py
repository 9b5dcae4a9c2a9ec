from PIL import Image

from yeehaw_tf.analysis.plots import plot_activations, plot_optimizer_paths, plot_schedules


def test_plot_activations_writes_a_png(tmp_path):
    path = plot_activations(str(tmp_path / "figs" / "activations.png"))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1200, 700)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # curves and text were drawn, not a blank canvas
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["activations.png"]


def test_plot_schedules_and_optimizer_paths_write_pngs(tmp_path):
    for plot, size in ((plot_schedules, (1000, 550)), (plot_optimizer_paths, (1400, 600))):
        path = plot(str(tmp_path / f"{plot.__name__}.png"))
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == size
            assert len(image.convert("RGB").getcolors(maxcolors=1_000_000)) > 50


def test_plot_segmentation_shows_the_class_colours_and_refuses_bad_shapes(tmp_path):
    import numpy as np
    import pytest

    from yeehaw_tf.analysis.plots import _class_colours, plot_segmentation

    images = np.full((2, 16, 16, 3), 128, np.uint8)
    masks = np.zeros((2, 16, 16), np.int64)
    masks[:, 4:12, 4:12] = 2
    predictions = np.roll(masks, 2, axis=-1)
    path = plot_segmentation(
        str(tmp_path / "overlay.png"), images, masks, predictions, ("a", "b", "c")
    )
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (750, 500)  # 3 panels x 2 rows
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1_000_000)}
    assert tuple(int(v) for v in _class_colours(3)[2]) in colours  # class 2 is drawn
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.png"]  # written atomically
    with pytest.raises(ValueError, match="masks and predictions"):
        plot_segmentation(str(tmp_path / "x.png"), images, masks[0], predictions)
