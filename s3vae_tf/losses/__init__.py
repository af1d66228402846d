"""Loss terms of S3VAE as plain tensor functions; each returns a value per clip unless it says otherwise."""
