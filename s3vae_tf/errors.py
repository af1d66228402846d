"""Errors a user can fix: every command turns them into one line on stderr and exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input (flags, paths, files, run directories): the message names the problem."""


class DataError(UsageError):
    """Data that is missing, unreadable or corrupt, with what to do about it."""


class NonFiniteLossError(UsageError):
    """Training produced NaN/Inf; the last good checkpoint is kept untouched."""
