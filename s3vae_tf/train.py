"""``python -m s3vae_tf.train --dataset sprite``: see :mod:`s3vae_tf.training.train`."""

import sys

from s3vae_tf.training.train import entry

if __name__ == "__main__":
    sys.exit(entry())
