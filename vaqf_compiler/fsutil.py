"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or Ctrl-C leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import shutil
import sys
import tempfile
import time
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


# Test hook (test_reliability.py): with VAQF_TEST_PAUSE_WRITE=STEP, `staged_tree`
# announces STEP on stderr and sleeps there, so a test can SIGKILL the writer at a known point.
PAUSE_ENV = "VAQF_TEST_PAUSE_WRITE"


def _pause(step: str) -> None:
    if os.environ.get(PAUSE_ENV) == step:
        sys.stderr.write(f"vaqf-test-pause: {step}\n")
        sys.stderr.flush()
        time.sleep(600)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel or a file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_stale_temporaries(parent: Path, name: str) -> None:
    """Temporary trees of earlier writers of `name` that were killed (their pid is gone)."""
    for p in parent.glob(f".{glob.escape(name)}.*.tmp"):
        pid = p.name[len(name) + 2 :].split(".", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def write_files(root: Path, files: Mapping[str, bytes | str]) -> None:
    """Write `files` (relative path -> content) under the directory `root`."""
    check_relative_paths(files)
    for i, rel in enumerate(sorted(files)):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = files[rel]
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        if i == len(files) // 2:
            _pause("half written")


def check_relative_paths(files: Mapping[str, bytes | str]) -> None:
    for rel in files:
        if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts or "\0" in rel:
            raise ValueError(f"bad relative path {rel!r}: project files must stay inside the project")


@contextmanager
def staged_tree(target: Path, replace: bool = False) -> Iterator[Path]:
    """A temporary directory beside `target` to build a whole tree in; it replaces `target` when the block ends.

    The tree is built in a temporary directory beside `target`, then renamed into
    place. An existing `target` must be empty unless `replace` is true; then the
    two are exchanged in one atomic step (renameat2; elsewhere two renames, with a
    moment where `target` is absent) and the old tree is removed afterwards. A
    block that raises (or a writer killed at any point) leaves the old tree or the
    new one at `target`, never a mix; a killed writer's temporary tree
    (`.NAME.PID.*.tmp`) is removed by the next write. `target` itself is
    replaced, never written through (a symlink there is replaced, not followed).
    Raises `FileExistsError` (non-empty, `replace` false) or `NotADirectoryError`.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise NotADirectoryError(f"{target} exists and is not a directory")
        if not replace and any(target.iterdir()):
            raise FileExistsError(f"{target} exists and is not empty")
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(parent, target.name)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        _pause("written")
        if target.exists() or target.is_symlink():
            if _exchange(tmp, target):
                _pause("exchanged")
                if tmp.is_symlink():  # the old `target` was a symlink: drop the link, not what it points to
                    tmp.unlink()
                else:
                    shutil.rmtree(tmp, ignore_errors=True)  # now the old tree
                return
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"))
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
        _pause("renamed")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_tree_atomically(target: Path, files: Mapping[str, bytes | str], replace: bool = False) -> None:
    """Write a whole directory of `files` (relative path -> content) so that `target` appears complete or not at all.

    See `staged_tree`; also raises `ValueError` for a path in `files` leaving the tree.
    """
    check_relative_paths(files)
    with staged_tree(target, replace) as tmp:
        write_files(tmp, files)
