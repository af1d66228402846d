"""s3vae-tf: S3VAE (Zhu et al., CVPR 2020) in TensorFlow / Keras 3.

Importing the package is cheap; TensorFlow loads when a model, pipeline or command needs it.
"""

__version__ = "0.1.0"
