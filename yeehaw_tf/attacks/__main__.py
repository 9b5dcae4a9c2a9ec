"""``python -m yeehaw_tf.attacks --workdir W [--epsilons 0,1,2,4,8,16,32]
[--attacks fgsm,iterative_fgsm,least_likely] [--data_dir D] [--max_examples N] [--out DIR]``:
a trained classifier's accuracy under each attack at each epsilon, written to ``W/attacks/``.
The logic is in :mod:`yeehaw_tf.cli.attacks`."""

import sys

from yeehaw_tf.cli.attacks import main

if __name__ == "__main__":
    sys.exit(main())
