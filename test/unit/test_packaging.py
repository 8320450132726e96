"""The root folders install under the package: nothing named `dialects` or `passes` in site-packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import vaqf_compiler
from vaqf_compiler.dialects import vit

ROOT = Path(__file__).resolve().parents[2]


def test_editable_install_maps_root_folders():
    assert Path(vit.__file__).resolve() == ROOT / "dialects" / "vit.py"
    assert Path(vaqf_compiler.__file__).resolve().parent == ROOT / "vaqf_compiler"


def test_wheel_puts_root_folders_under_the_package(tmp_path):
    # Build from a copy: setuptools leaves build/ and *.egg-info in the source tree.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "out", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(tmp_path), str(src)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("vaqf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "vaqf_compiler/dialects/vit.py" in names
    assert "vaqf_compiler/passes/__init__.py" in names
    assert "vaqf_compiler/backends/hls/__init__.py" in names
    top = {n.split("/")[0] for n in names}
    assert top <= {"vaqf_compiler", next(t for t in top if t.endswith(".dist-info"))}, top

    # A normal (non-editable) install of that wheel imports from its own copy.
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    probe = "import vaqf_compiler.dialects.vit as v, vaqf_compiler.ir; print(v.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )
    assert out.stdout.strip() == str(target / "vaqf_compiler" / "dialects" / "vit.py")
