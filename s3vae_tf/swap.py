"""``python -m s3vae_tf.swap``: see :mod:`s3vae_tf.evaluation.swap`."""

import sys

from s3vae_tf.evaluation.swap import entry

if __name__ == "__main__":
    sys.exit(entry())
