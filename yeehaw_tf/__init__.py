"""yeehaw_tf: deep learning for vision, from activations to diffusion, in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
