"""How prepared data is kept: verified array caches, downloads, the shared preparation recipe, progress bars."""
