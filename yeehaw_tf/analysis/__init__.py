"""Analysis of models and functions: the per-layer cost table, receptive fields, plots.

``python -m yeehaw_tf.analysis --model alexnet --input_shape 227,227,3 [--format csv]``
prints a registered model's cost table.
"""

from yeehaw_tf.analysis.cost import cost_table, format_table
from yeehaw_tf.analysis.receptive_field import receptive_field

__all__ = ["cost_table", "format_table", "receptive_field"]
