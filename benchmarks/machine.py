"""What the benchmarks record about the machine they ran on (imported by the benchmark scripts)."""

from __future__ import annotations


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return ""
