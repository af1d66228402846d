"""Keras layers of S3VAE and the model that wires them."""
