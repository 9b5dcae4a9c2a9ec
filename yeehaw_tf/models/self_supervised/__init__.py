"""Encoders for self-supervised learning: the Vision Transformer and the masked autoencoder."""
