"""User-facing errors.

Everything a user can cause (bad IR, a missing file, an unsupported model)
raises a `VaqfError`; the command-line tools print it as one line, prefixed
with where it happened, and exit with status 1. A Python traceback from a
tool is always a bug in vaqf.
"""

from __future__ import annotations


class VaqfError(Exception):
    """An error in the user's input, reported as `error: <where>: <message>`."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message
