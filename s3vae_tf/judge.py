"""``python -m s3vae_tf.judge``: see :mod:`s3vae_tf.evaluation.judge`."""

import sys

from s3vae_tf.evaluation.judge import entry

if __name__ == "__main__":
    sys.exit(entry())
