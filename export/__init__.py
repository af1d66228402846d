"""Export a trained S3VAE run for serving: SavedModel (TF Serving), ONNX, TFLite, samples, metadata.json.

``python -m export --run RUN_DIR --out DIR`` (:mod:`export.command`); the layout is in :mod:`export.layout`,
the endpoints in :mod:`export.signatures`, the metadata contract in :mod:`export.metadata`.
"""
