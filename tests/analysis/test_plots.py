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
