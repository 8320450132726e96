"""The mutation fuzzer (vaqf_compiler/fuzz.py): a seeded subset runs in the default suite, a long run in test-all.

The regressions below are inputs the long runs found; each failed before its fix.
"""

from __future__ import annotations

import os
import time

import pytest

from vaqf_compiler import fuzz
from vaqf_compiler.fuzz import Case, Mutator, check_outcome, load_corpus, make_case, run_case, run_case_as_program


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def mutator(corpus):
    return Mutator(corpus)


def _show(report: fuzz.Report) -> str:
    return report.summary() + "\n" + "\n".join(f.describe() for f in report.failures[:10])


def test_corpus_covers_sources_and_pipeline_stages(corpus):
    names = [name for name, _ in corpus]
    assert any(n.startswith("Inputs/tiny_vit.mlir") for n in names)
    assert any(n.startswith("dialects/vit/invalid.mlir") for n in names)
    generated = [text for name, text in corpus if name.startswith("tiny_vit|")]
    assert any("accel.engine" in t and "#accel.tiling" in t for t in generated)  # lowered and tiled
    assert any("quant #vit.quant" in t and "accel.engine" not in t for t in generated)  # quantized only


def test_inputs_are_a_function_of_seed_and_index(mutator):
    a = [make_case(mutator, 7, i) for i in range(50)]
    assert a == [make_case(mutator, 7, i) for i in range(50)]
    assert a != [make_case(mutator, 8, i) for i in range(50)]
    assert len({c.text for c in a}) > 40  # they differ from one another


def test_check_outcome_rejects_what_it_must(tmp_path):
    p = "x.mlir"
    assert check_outcome(1, "", "x.mlir:3:4: error: bad\n", p, False) is None
    assert check_outcome(1, "", "x.mlir:3: error: bad\n", p, False) is None
    assert check_outcome(0, "builtin.module {\n}\n", "", p, False) is None
    assert "location" in check_outcome(1, "", "x.mlir: error: bad\n", p, False)
    assert "location" in check_outcome(1, "", "vaqf-opt: error: bad\n", p, False)
    assert "lines" in check_outcome(1, "", "x.mlir:1:1: error: a\nx.mlir:2:1: error: b\n", p, False)
    assert "internal error" in check_outcome(1, "", "x.mlir:1:1: error: internal error (KeyError): 1\n", p, False)
    assert "traceback" in check_outcome(1, "", "Traceback (most recent call last):\n  ...\n", p, False)
    assert "exit status" in check_outcome(2, "", "x.mlir:1:1: error: a\n", p, False)
    assert "re-parse" in check_outcome(0, "func.func @f(\n", "", p, False)


def test_driver_reports_hangs_and_dead_workers(monkeypatch, mutator, corpus):
    """A planted hang (input 3) and a hard crash (input 5) are caught; the run goes on."""

    def planted(case: Case, workdir) -> str:
        if case.index == 3:
            time.sleep(60)
        if case.index == 5:
            os._exit(3)
        return "ok:diagnostic"

    monkeypatch.setattr(fuzz, "run_case", planted)  # workers are forked: they see the patch
    report = fuzz.fuzz(10, seed=0, jobs=2, timeout_s=1.0, corpus=corpus)
    assert report.tried == 10 and report.accepted == 8
    assert [(f.index, f.kind.split(":")[0]) for f in report.failures] == [(3, "hang"), (5, "worker died with exit code _")]


def test_fast_seeded_subset():
    """1500 mutated inputs through vaqf-opt's entry point: valid output or one located line each."""
    report = fuzz.fuzz(1500, seed=20261123, jobs=2, timeout_s=20.0)
    assert report.tried == 1500
    assert report.valid_output > 50 and report.diagnosed > 500  # both outcomes are exercised
    assert not report.failures, _show(report)


def test_some_inputs_through_the_installed_program(mutator, tmp_path):
    """The same contract holds for the `vaqf-opt` executable (exit status, stderr as the shell sees them)."""
    outcomes = [run_case_as_program(make_case(mutator, 99, i), tmp_path) for i in range(6)]
    assert all(o.startswith("ok:") for o in outcomes), outcomes


# Inputs the long runs found, one per failure class (each was a crash or an unlocated line).
REGRESSIONS = {
    # module-wide pass error on an empty input had no line
    "empty input, module-wide pass error": ("", ["-p", "assign-tiling{board=zcu102 target-fps=24}"]),
    # xDSL's DenseArrayBase verifier divides by the element width
    "array<i0>": (
        "func.func @f() attributes {a = array<i0>} {\n  func.return\n}\n",
        [],
    ),
    # `dense` and `<` on different lines slipped past the dense-literal cap: a 10^8-element splat (a hang)
    "dense literal split over lines": (
        "!big = tensor<100000000xf32>\nfunc.func @f() -> !big {\n  %0 = arith.constant dense\n<0.0> : !big\n"
        "  func.return %0 : !big\n}\n",
        ["-p", "canonicalize"],
    ),
    # a function declared with an empty region crashed dataflow_graph
    "model without a body": ("func.func @f() {\n}\n", ["-p", "vaqf-pipeline{abits=8}"]),
    # SSA use of the op's own result (xDSL does not check dominance)
    "self use": (
        "func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %a = vit.gelu %a : tensor<4xf32> -> tensor<4xf32>\n"
        "  func.return %a : tensor<4xf32>\n}\n",
        [],
    ),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regressions(name, tmp_path):
    text, argv = REGRESSIONS[name]
    outcome = run_case(Case(0, name, (), tuple(argv), text), tmp_path)
    assert outcome == "ok:diagnostic", outcome


@pytest.mark.parametrize("pipeline", ["partition-host-accel", "lower-to-accel"])
def test_passes_on_already_lowered_ir(corpus, pipeline, tmp_path):
    """Re-running a vit-level pass on lowered IR was an AssertionError / KeyError."""
    lowered = next(text for name, text in corpus if name == "tiny_vit|vaqf-pipeline{abits=8}")
    outcome = run_case(Case(0, "lowered", (), ("-p", pipeline), lowered), tmp_path)
    assert outcome.startswith("ok:"), outcome


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_long_run(seed):
    report = fuzz.fuzz(20_000, seed=seed, jobs=os.cpu_count() or 2, timeout_s=30.0)
    assert report.tried == 20_000
    assert not report.failures, _show(report)
