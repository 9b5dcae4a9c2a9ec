"""Analysis of models and functions: plots (and, later, cost tables and receptive fields)."""
