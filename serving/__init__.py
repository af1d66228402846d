"""Serving an export: TF Serving configuration, the embedded REST server, clients, and an onnxruntime runner.

Nothing here imports TensorFlow at package import time: :mod:`serving.onnx_runtime` must work without it.
"""
