"""Project directories vaqf writes: the marker file, what `--force` may replace, staged replacement.

A project directory (`vaqf emit -o`, `vaqf compile -o`) is built in a temporary
directory beside its target and renamed into place when complete
(`fsutil.staged_tree`). The last file written is `MARKER`, listing the
top-level entries vaqf put there. `--force` replaces an existing directory
only when it holds that marker and nothing but the listed entries and what
tools make inside a project (`DERIVED`: build folders, Vitis HLS's project),
and when none of the command's inputs lies inside it: a user's model or
images are never deleted by a replacement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vaqf_compiler import __version__
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import staged_tree
from vaqf_compiler.validate import writable_parent

MARKER = ".vaqf-project"
# What `vaqf csim`, `make csim` and `vitis_hls -f run_hls.tcl` create inside a project.
DERIVED = frozenset({"build", "build-sanitize", "vaqf_hls", "vitis_hls.log"})


def inside(path: Path, directory: Path) -> bool:
    """`path` is `directory` or lies below it (symbolic links resolved)."""
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except (ValueError, OSError):
        return False


# A project written before the marker existed: project.json and only these entries.
UNMARKED = frozenset({"Makefile", "README.md", "host", "kernel", "weights", "tb", "project.json", "run_hls.tcl",
                      "ir", "report", "report.html", "report.md", "board"})


def foreign_entries(target: Path) -> list[str] | None:
    """Top-level entries of `target` vaqf did not write; None when it is not a vaqf project (no readable
    marker; an older project without one counts when it holds project.json and only vaqf's usual entries)."""
    try:
        listed = json.loads((target / MARKER).read_text(encoding="utf-8"))["entries"]
        allowed = {str(e) for e in listed}
    except (OSError, ValueError, KeyError, TypeError):
        if (target / MARKER).exists() or not (target / "project.json").is_file():
            return None
        allowed = set(UNMARKED)
    return sorted(p.name for p in target.iterdir() if p.name not in allowed | DERIVED | {MARKER})


def check_output_dir(target: Path, force: bool, inputs: Iterable[Path | str | None] = (), flag: str = "-o") -> None:
    """Refuse, before any work, an output directory vaqf may not write or replace (one-line `VaqfError`)."""
    target = Path(target)
    if target.is_symlink():
        if not force:
            raise VaqfError(f"{flag} {target} is a symbolic link; pass --force to replace the link "
                            f"(not what it points to), or choose another {flag}")
    elif target.exists():
        if not target.is_dir():
            raise VaqfError(f"{flag} {target} exists and is not a directory; choose another {flag}")
        if inside(Path.cwd(), target):
            raise VaqfError(f"{flag} {target} holds the current directory, and vaqf replaces the directory whole: "
                            f"run it from outside (e.g. cd ..) or choose another {flag}")
        for given in inputs:
            if given is not None and Path(given).exists() and inside(Path(given), target):
                raise VaqfError(f"{flag} {target} holds the input {given}; replacing it would delete the input: "
                                f"choose another {flag}")
        if any(target.iterdir()):
            if not force:
                raise VaqfError(f"{target} exists and is not empty; pass --force to replace it, or choose another "
                                f"{flag}")
            foreign = foreign_entries(target)
            if foreign is None:
                raise VaqfError(f"{target} was not written by vaqf (no {MARKER} file), so --force will not "
                                f"replace it: move its files away or choose another {flag}")
            if foreign:
                shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
                raise VaqfError(f"{target} holds files vaqf did not write ({shown}), so --force will not replace "
                                f"it: move them away or choose another {flag}")
    writable_parent(target, flag)


def read_meta(project: Path) -> dict:
    """A project's `project.json`, checked enough to run it; one-line `VaqfError` when missing or damaged."""
    path = Path(project) / "project.json"
    if not Path(project).is_dir():
        raise VaqfError(f"project directory {project} not found")
    if not path.is_file():
        raise VaqfError(f"{project} is not a project emitted by `vaqf emit` (no project.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        image = [int(v) for v in meta["image"]]
        outputs = int(meta["outputs"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise VaqfError(f"{path} is damaged ({type(e).__name__}: {' '.join(str(e).split())}); "
                        "emit the project again (vaqf emit or vaqf compile --force)") from None
    if len(image) != 3 or min(image) < 1 or outputs < 1:
        raise VaqfError(f"{path} is damaged (image {image}, outputs {outputs}); emit the project again")
    return meta


def write_marker(root: Path) -> None:
    """The marker, listing every top-level entry now in `root` (written last)."""
    entries = sorted(p.name for p in root.iterdir() if p.name != MARKER)
    text = json.dumps({"written_by": f"vaqf {__version__}", "entries": entries,
                       "note": "vaqf --force replaces this directory only while it holds nothing else"}, indent=2)
    (root / MARKER).write_text(text + "\n", encoding="utf-8")


@contextmanager
def staged_project(target: Path, force: bool, inputs: Iterable[Path | str | None] = (), flag: str = "-o"
                   ) -> Iterator[Path]:
    """Check `target`, then yield a temporary directory that replaces it, marked, when the block succeeds.

    A block that raises, or a process killed at any point, leaves the old directory
    (or none) or the complete new one, never a mix.
    """
    check_output_dir(target, force, inputs, flag)
    try:
        with staged_tree(Path(target), replace=force) as tmp:
            yield tmp
            write_marker(tmp)
    except FileExistsError:
        raise VaqfError(f"{target} exists and is not empty; pass --force to replace it, or choose another {flag}"
                        ) from None
    except NotADirectoryError:
        raise VaqfError(f"{flag} {target} exists and is not a directory; choose another {flag}") from None
    except OSError as e:
        raise VaqfError(f"cannot write {target}: {e.strerror or e}; choose another {flag}") from None
