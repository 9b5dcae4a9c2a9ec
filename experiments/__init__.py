"""Measured experiments of the training-techniques chapter: each script runs its commands'
configurations in one process (``python -m experiments.NAME``), prints a markdown table and
writes it, with its pictures, under ``--out`` (default ``runs/experiments/NAME``)."""
