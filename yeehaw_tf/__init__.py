"""yeehaw_tf: deep learning for vision, from activations to diffusion, in TensorFlow 2 / Keras 3.

The subpackages are reachable from the top-level module (``import yeehaw_tf as yt;
yt.layers.Maxout``), imported on first use (PEP 562) so that ``import yeehaw_tf`` itself stays
cheap and does not import TensorFlow.
"""

import importlib

__version__ = "0.1.0"

SUBMODULES = (
    "analysis",
    "atomic",
    "attacks",
    "cli",
    "data",
    "export",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "predict",
    "regularizers",
    "training",
)


def __getattr__(name: str):
    if name in SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *SUBMODULES])
