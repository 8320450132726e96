"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A `vaqf train` run on digits (one epoch per stage, W1A4 only): fp.pt, w1a32.pt, w1a4.pt."""
    from vaqf_compiler.cli.main import main

    out = tmp_path_factory.mktemp("trained") / "run"
    fast = ["--epochs-fp", "1", "--epochs-binary", "1", "--epochs-act", "1", "--batch-size", "256"]
    assert main(["train", *fast, "--abits", "4", "--out", str(out)]) == 0
    return out
