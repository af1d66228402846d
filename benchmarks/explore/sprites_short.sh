#!/usr/bin/env bash
# Short exploratory Sprites runs (quick preset model, 5 x 100 steps of batch 32), one at a time, each with
# the step monitor (gradient shares every 50 steps, protocol probe on 256 test clips every 100 steps).
# Usage: benchmarks/explore/sprites_short.sh DATA_DIR RUNS_DIR NAME [extra train flags...]
set -euo pipefail
data="$1"; runs="$2"; name="$3"; shift 3
python -m s3vae_tf.train --dataset sprite --preset quick --data-dir "$data" --run-dir "$runs/$name" \
  --epochs 5 --steps-per-epoch 100 --validation-steps 2 --image-every 0 --diagnostics-every 50 \
  --probe-every 100 --probe-clips 256 --verbose 2 "$@"
