"""A console progress bar for data preparation that does not need TensorFlow."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts items towards ``total`` and redraws one line on stderr (every 0.2 s on a terminal, 10 s in a log)."""

    def __init__(self, label: str, total: int, stream=None):
        stream = stream or sys.stderr  # looked up now, not at import: it may have been redirected since
        self.label, self.total, self.done, self.stream = label, max(total, 1), 0, stream
        self.start = self._last = time.monotonic()
        self.interval = 0.2 if getattr(stream, "isatty", lambda: False)() else 10.0

    def add(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            width = 30
            filled = int(width * min(self.done, self.total) / self.total)
            rate = self.done / max(now - self.start, 1e-9)
            end = "\n" if self.done >= self.total else ""
            self.stream.write(
                f"\r{self.label}: [{'=' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {rate:.0f}/s{end}"
            )
            self.stream.flush()
