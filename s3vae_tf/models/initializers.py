"""The original code's weight initialisation, as an option of :class:`ModelConfig` (``init="original"``).

The original S3VAE code calls ``init_weights`` on the model: every Linear and Conv weight is drawn from
N(0, 0.01) (standard deviation 0.01) and every bias set to 0; LSTM and BatchNorm parameters keep their
framework defaults. Keras' defaults (Glorot uniform kernels) are ``init="keras"``.
"""

from __future__ import annotations

import keras
import numpy as np

_RECURRENT = ("lstm", "rnn")


def original_init(model: keras.Model, seed: int = 0, stddev: float = 0.01) -> int:
    """Re-initialise ``model``'s dense and conv kernels N(0, stddev^2) and their biases 0, in place.

    Recurrent layers and BatchNorm are left alone. Returns the number of variables changed.
    """
    rng = np.random.default_rng(seed)
    changed = 0
    for variable in model.trainable_variables:
        path = variable.path.lower()
        if any(part in path for part in _RECURRENT):
            continue
        name = path.rsplit("/", 1)[-1]
        if name == "kernel":
            variable.assign(rng.normal(0.0, stddev, variable.shape).astype(variable.dtype))
        elif name == "bias":
            variable.assign(np.zeros(variable.shape, variable.dtype))
        else:
            continue
        changed += 1
    return changed
