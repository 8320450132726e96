"""Argument checks the subcommands run before any stage: one line each, saying what is wrong and how to fix it.

Each function checks one kind of value (a seed, a count, a batch of images, a
size against the memory left, an output path) and raises `VaqfError` naming the
option; the commands call them first, so a typo never waits for the model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vaqf_compiler.errors import VaqfError

SEED_MAX = 2**32 - 1  # numpy's and torch's seeds both take this range


def seed(value: int, flag: str = "--seed") -> int:
    if not 0 <= value <= SEED_MAX:
        raise VaqfError(f"{flag} must be an integer in 0..{SEED_MAX}, got {value}")
    return value


def common(args) -> None:
    """The options several subcommands share, checked before their command runs (`vaqf_compiler.cli.main`)."""
    if getattr(args, "seed", None) is not None:
        seed(args.seed)


def count(value: int, flag: str, minimum: int = 1) -> int:
    if value < minimum:
        raise VaqfError(f"{flag} must be >= {minimum}, got {value}")
    return value


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    raise AssertionError


def fits_in_memory(nbytes: float, what: str, fix: str) -> None:
    """Refuse an allocation of `nbytes` larger than the memory available now."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise VaqfError(f"{what} need {_size(nbytes)}, more than the {_size(free)} of memory available; {fix}")


def random_images(n: int, shape: tuple[int, ...], flag: str) -> None:
    """`n` seeded random images of `shape` (drawn as float64, kept as float32) fit in memory."""
    count(n, flag)
    fits_in_memory(n * int(np.prod(shape)) * 12.0, f"{flag} {n} images of {list(shape)}", f"lower {flag}")


def image_batch(x: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """`x` as a batch [N, *shape] with N >= 1: one image [*shape] or a batch; anything else is refused.

    An NHWC array, or one with the right number of values in another shape, is refused: never reshaped.
    """
    if x.shape == tuple(shape):
        return x[None]
    if x.ndim == len(shape) + 1 and x.shape[1:] == tuple(shape) and len(x) > 0:
        return x
    dims = ", ".join(map(str, shape))
    hint = ""
    if x.ndim == len(shape) + 1 and len(shape) == 3 and x.shape[1:] == (shape[1], shape[2], shape[0]):
        hint = " (channels last: transpose it with x.transpose(0, 3, 1, 2))"
    raise VaqfError(f"{what} has shape {list(x.shape)}; expected one image [{dims}] or a batch [N, {dims}] "
                    f"with N >= 1{hint}")


def finite(x: np.ndarray, what: str) -> None:
    """Refuse NaN or infinite values (they would silently spoil scales or outputs)."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise VaqfError(f"{what} holds {int(bad.sum())} NaN or infinite value(s) (the first at index {list(first)}); "
                        "replace or drop them")


def output_file(path: Path, flag: str) -> None:
    """`path` can be written as a file: not a directory, and its nearest existing parent is writable."""
    path = Path(path)
    if path.is_dir():
        raise VaqfError(f"{flag} {path} is a directory; give a file name")
    writable_parent(path, flag)


def writable_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of `path` is a directory this process may create entries in."""
    parent = Path(path).absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise VaqfError(f"cannot write {flag} {path}: {parent} is not a writable directory; choose another {flag}")


def build_dir(path: Path | None, flag: str = "--build-dir") -> None:
    if path is not None and (path.exists() or path.is_symlink()) and not path.is_dir():
        raise VaqfError(f"{flag} {path} exists and is not a directory; give a directory")
