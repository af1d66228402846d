"""Training: tf.distribute strategies, callbacks (checkpoints, TensorBoard images) and the CLI."""
