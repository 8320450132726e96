"""lit configuration for vaqf's FileCheck tests: `lit -v test/filecheck` (from the venv or not)."""

# ruff: noqa: F821  (`config` is injected by lit)

import os
import shutil
import sys

import lit.formats

config.name = "vaqf"
config.test_format = lit.formats.ShTest()
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.test_source_root
config.excludes = ["Inputs", "lit.cfg.py"]

# `venv/bin/lit` run without activating the venv must still find vaqf-opt and filecheck.
config.environment["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), config.environment.get("PATH", "")])
# Deterministic output: no colours, no tracebacks switched on from the caller's shell.
config.environment.pop("VAQF_TRACEBACK", None)

# Round trip: generic form printed, parsed back and printed in custom form, then checked.
config.substitutions.append(
    (
        "VAQF_ROUNDTRIP",
        "vaqf-opt %s --split-input-file --print-op-generic | vaqf-opt --split-input-file | filecheck %s",
    )
)

# Optional tools become features (`// REQUIRES: gxx`).
for tool, feature in [("g++", "gxx"), ("vitis_hls", "vitis-hls")]:
    if shutil.which(tool):
        config.available_features.add(feature)

# `%python` runs the venv's interpreter (to generate hostile inputs on the fly).
config.substitutions.append(("%python", sys.executable))
