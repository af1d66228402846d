"""Datasets as prepared numpy arrays (cached on disk) and the tf.data pipeline that feeds training."""
