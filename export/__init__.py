"""Command-line export tooling (``python -m export``); the logic is in ``yeehaw_tf.export``.

This package lives in the repository only: it is never installed into site-packages.
"""
