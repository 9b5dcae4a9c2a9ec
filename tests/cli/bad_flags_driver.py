"""Runs ``train.py``'s flag parsing and ``main`` for several command lines in ONE process (a
subprocess per command line costs a TensorFlow import each): ``python -m
tests.cli.bad_flags_driver WORKDIR_ROOT 'FLAGS 1' 'FLAGS 2' ...`` prints one JSON object per
command line: its exit code and what it wrote to stderr, as ``app.run`` would report them."""

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from yeehaw_tf.cli.flags import define_train_flags  # noqa: E402
from yeehaw_tf.cli.train import main  # noqa: E402


def run_one(command_line: str, workdir: str) -> dict:
    values = flags.FLAGS
    values.unparse_flags()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            argv = values(["train.py", *command_line.split(), f"--workdir={workdir}"])
        except flags.Error as e:  # what app.run prints for a flag it cannot parse
            print(f"FATAL Flags parsing error: {e}", file=sys.stderr)
            return {"rc": 1, "stderr": stderr.getvalue()}
        try:
            rc = main(argv)
        except Exception:  # a traceback is what the test must not see
            import traceback

            traceback.print_exc()
            rc = 2
    return {"rc": rc, "stderr": stderr.getvalue()}


if __name__ == "__main__":
    define_train_flags()
    root, command_lines = sys.argv[1], sys.argv[2:]
    results = {
        line: run_one(line, os.path.join(root, f"w{i}")) for i, line in enumerate(command_lines)
    }
    print(json.dumps(results))
