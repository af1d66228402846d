"""Subprocess for test_distributed: one worker of a MultiWorkerMirroredStrategy run (TF_CONFIG from env).

Trains through the same function as the CLI and saves its final trainable weights to argv[2].
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from s3vae_tf.config import RunConfig
from s3vae_tf.train import train


def main(config_json: str, weights_out: str, run_dir: str) -> None:
    config = RunConfig.from_dict(json.loads(config_json))
    history = train(config, Path(run_dir))
    model = history.model
    np.savez(weights_out, *[v.numpy() for v in model.trainable_variables])
    print(json.dumps({"loss": history.history["loss"], "replicas": model.distribute_strategy.num_replicas_in_sync}))


if __name__ == "__main__":
    main(*sys.argv[1:])
