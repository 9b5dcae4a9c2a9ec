#!/usr/bin/env bash
# ResNet-50 training images/s on a GPU: float32, mixed float16, mixed float16 + XLA.
#
#   bash benchmarks/gpu.sh                     # install from this checkout, then measure
#   bash benchmarks/gpu.sh --batch 128         # arguments go to benchmarks/gpu_resnet50.py
#   NO_INSTALL=1 VENV=.venv bash benchmarks/gpu.sh --quick   # existing venv; CPU smoke test
#
# Creates a virtual environment ($VENV, default .venv, which git ignores) with `python3 -m venv`,
# installs the package with its `gpu` extra (`pip install -e ".[gpu]"`: TensorFlow with the CUDA
# libraries), prints the GPU and the versions, then runs benchmarks/gpu_resnet50.py: batch 256
# of synthetic 224x224x3 images, each setting in its own process, one line per setting.
# Needs an NVIDIA driver and network access for the install; Python 3.10 to 3.13.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
if [[ -z "${NO_INSTALL:-}" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --upgrade pip
  "$VENV/bin/python" -m pip install -e ".[gpu]"
fi
PYTHON="$VENV/bin/python"

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
else
  echo "nvidia-smi not found: no NVIDIA driver, TensorFlow will run on the CPU"
fi
TF_CPP_MIN_LOG_LEVEL=3 "$PYTHON" - <<'EOF'
import keras
import tensorflow as tf

print(
    f"TensorFlow {tf.__version__}, Keras {keras.__version__}, built with CUDA "
    f"{tf.test.is_built_with_cuda()}; GPUs: {tf.config.list_physical_devices('GPU')}"
)
EOF
"$PYTHON" benchmarks/gpu_resnet50.py "$@"
