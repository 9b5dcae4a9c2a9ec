"""The command-line faces: flag definitions and ``main`` functions (the only code that reads
flags). ``train.py`` and ``python -m export`` at the top of the repository call them."""
