"""The built-in datasets: each module builds its clips and labels and registers a ``DatasetSpec``."""
