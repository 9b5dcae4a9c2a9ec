"""Semantic segmentation architectures: FCN, U-Net, SegNet. Each maps standardised float images
``[batch, H, W, C]`` to per-pixel logits ``[batch, H, W, num_classes]``."""
