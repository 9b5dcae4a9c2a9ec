"""The command-line faces: flag definitions and ``main`` functions (the only code that reads
flags). ``train.py`` and ``python -m export`` at the top of the repository call them."""


def start(argv) -> None:
    """What every ``main`` does first: refuse stray arguments and quiet TFDS and TF's INFO
    logging (``--verbosity=0`` shows it)."""
    from absl import app, flags, logging

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
