"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or Ctrl-C leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file for writing that replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_output(path) as f:
        f.write(text)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    with atomic_output(path, "wb") as f:
        write(f)


def write_tree_atomically(target: Path, files: Mapping[str, bytes | str], replace: bool = False) -> None:
    """Write a whole directory of `files` (relative path -> content) so that `target` appears complete or not at all.

    The tree is built in a temporary directory beside `target`, then renamed into
    place. An existing `target` must be empty unless `replace` is true; then it is
    swapped out and removed only after the new tree is in place. Raises
    `FileExistsError` (non-empty, `replace` false) or `NotADirectoryError`.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise NotADirectoryError(f"{target} exists and is not a directory")
        if not replace and any(target.iterdir()):
            raise FileExistsError(f"{target} exists and is not empty")
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        for rel in sorted(files):
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"bad relative path {rel!r}")
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = files[rel]
            path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".old"))
            os.rmdir(old)
            os.rename(target, old)
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
