"""``python -m s3vae_tf.evaluate``: see :mod:`s3vae_tf.evaluation.evaluate`."""

import sys

from s3vae_tf.evaluation.evaluate import entry

if __name__ == "__main__":
    sys.exit(entry())
