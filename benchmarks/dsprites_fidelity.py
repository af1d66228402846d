"""How faithful is the procedural dSprites renderer? IoU against the real frames of ``dsprites.gif``.

The GIF from the dSprites repository holds 320 real dataset images (latent traversals of all three
shapes); each is compared with the renderer's image at the same factors. The geometry was fitted on the
heart's scale and rotation frames and on the ellipse and square frames; the heart's 128 position frames
were not used for fitting and are reported separately.

    python benchmarks/dsprites_fidelity.py [--gif ../shared/data/dsprites/dsprites.gif]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    import numpy as np
    from PIL import Image, ImageSequence

    from s3vae_tf.data.datasets import dsprites
    from s3vae_tf.io import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gif", default=str(REPO.parent / "shared" / "data" / "dsprites" / "dsprites.gif"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "dsprites_fidelity.json"))
    args = parser.parse_args(argv)
    with Image.open(args.gif) as im:
        frames = np.stack([np.asarray(f.convert("L")) > 127 for f in ImageSequence.Iterator(im)])
    factors = dsprites.reference_gif_factors()
    ious = np.array([
        (dsprites.render_factors(*f) & frame).sum() / (dsprites.render_factors(*f) | frame).sum()
        for f, frame in zip(factors, frames)
    ])
    shapes = np.array([f[0] for f in factors])

    def summary(values: np.ndarray) -> dict:
        return {"mean_iou": round(float(values.mean()), 4), "min_iou": round(float(values.min()), 4), "frames": len(values)}

    result = {
        "what": "IoU of rendered dSprites frames vs the real frames of dsprites.gif at the same factors",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "all": summary(ious),
        **{name: summary(ious[shapes == i]) for i, name in enumerate(dsprites.SHAPES)},
        "heart_positions_not_fitted": summary(ious[58:186]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
