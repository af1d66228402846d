"""Screen-space motion directions as class labels, in the flow grid's convention.

Bin 0 is "right" and bins go counter-clockwise as seen on screen (row 0 at the top): with 8 bins,
2 = up, 4 = left, 6 = down. The ground-truth direction labels of the generated datasets use the same
bins as the flow-grid DFP labels (:mod:`s3vae_tf.data.labels.flow_labels`), so the two can be compared.
"""

from __future__ import annotations

import numpy as np

BINS = 8
# The unit step (dx, dy) in pixels (y down) of each of the 8 bins.
STEPS = ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))


def direction_class(dx: np.ndarray | float, dy: np.ndarray | float, bins: int = BINS) -> np.ndarray:
    """The direction bin of screen displacements ``(dx, dy)`` (y down); a zero displacement gives bin 0."""
    angle = np.arctan2(-np.asarray(dy, np.float64), np.asarray(dx, np.float64)) % (2 * np.pi)
    return (np.floor(angle / (2 * np.pi / bins) + 0.5).astype(np.int64) % bins).astype(np.int32)
