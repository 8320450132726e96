"""The emitted kernel's source is the streaming hardware the cycle counter describes (no compiler needed).

Read as Vitis HLS would: DATAFLOW steps, every loop labelled, no division by a run-time value
inside a pipelined loop, code formats fixed at compile time, no `compact=bit` on the interface,
and the counter's constants one description with the Python side (backends/hls/timing.py).
"""

from __future__ import annotations

import re

import pytest

from vaqf_compiler.backends.hls import emit_project
from vaqf_compiler.backends.hls.timing import TIMING

from test_hls_csim import every_unit_on_the_fpga, images, reference, small  # noqa: F401 (fixture)

# Names that are compile-time constants in the kernel: template parameters and constexprs.
CONSTANTS = {"G", "V", "VL", "TI", "TN", "TM", "PT", "B"}


@pytest.fixture(scope="module", params=[8, 6], ids=["W1A8-every-unit", "W1A6-every-unit"])
def kernel(request, small) -> dict[str, str]:
    module = every_unit_on_the_fpga(small, request.param)
    xs = images(1)
    files = emit_project(module, small.params, tb_images=xs, tb_golden_codes=reference(module, small.params, xs)[1])
    return {path: text.decode() for path, text in files.items() if path.startswith("kernel/")}


def code_lines(text: str) -> list[str]:
    return [line.split("//")[0] for line in text.splitlines()]


def loop_bodies(lines: list[str], pragma: str) -> list[tuple[int, str]]:
    """(line, body) of every loop whose first line is `pragma`: from its opening brace to the matching one."""
    bodies = []
    for i, line in enumerate(lines):
        if pragma not in line:
            continue
        start = max(j for j in range(i) if "{" in lines[j])
        depth, body = 0, []
        for line2 in lines[start:]:
            body.append(line2)
            depth += line2.count("{") - line2.count("}")
            if depth <= 0:
                break
        bodies.append((i + 1, "\n".join(body)))
    return bodies


def test_engine_and_units_run_as_dataflow_steps(kernel):
    engine, units = kernel["kernel/vaqf_engine.h"], kernel["kernel/vaqf_units.h"]
    assert engine.count("#pragma HLS dataflow") == 1  # load | compute | store of the output tiles
    assert units.count("#pragma HLS dataflow") == 5  # layer norm in and out, the row units, softmax in and out
    for text in kernel.values():
        assert "compact=bit" not in text and "aggregate" not in text


def test_every_loop_is_labelled(kernel):
    for path, text in kernel.items():
        lines = [line for line in code_lines(text) if line.strip()]
        for prev, line in zip(lines, lines[1:]):
            if re.match(r"\s*(for|while)\s*\(", line):
                assert re.fullmatch(r"\s*[A-Z][A-Z0-9_]*:\s*", prev), f"{path}: unlabelled loop: {line.strip()}"


def test_no_division_by_a_run_time_value_in_a_pipelined_loop(kernel):
    for path, text in kernel.items():
        assert run_time_divisions(text) == [], path


def test_code_formats_are_compile_time(kernel):
    config, pack = kernel["kernel/vaqf_config.h"], kernel["kernel/vaqf_pack.h"]
    (formats,) = re.findall(r"#define VAQF_FORMATS\(X\) (.*)", config)
    listed = re.findall(r"X\((\d+), ([01])\)", formats)
    assert ("1", "1") in listed and ("16", "1") in listed and ("64", "1") in listed  # weights, x16, M and O
    assert len(listed) < 12  # the model's formats only, not every width
    # bit slots are cut only in Fmt<B, S>, at compile-time positions
    fmt = pack[pack.index("struct Fmt"):pack.index("// Words moved")]
    assert pack.count(".range(") == fmt.count(".range(") == 2
    for path, text in kernel.items():
        for line, body in loop_bodies(code_lines(text), "#pragma HLS pipeline"):
            assert not re.search(r"\.(bits|sgn|per_word)\b", body), f"{path}:{line}: a format read at run time"


def test_cycle_constants_are_one_description(kernel):
    cycles = kernel["kernel/vaqf_cycles.h"]
    fallbacks = {name: int(value) for name, value in re.findall(r"#define (VAQF_[A-Z_]+) (\d+)", cycles)}
    assert fallbacks == TIMING.macros()  # the header alone (test harnesses) counts like an emitted project
    config = kernel["kernel/vaqf_config.h"]
    emitted = {n: int(v) for n, v in re.findall(r"#define (VAQF_[A-Z_]+) (\d+)", config)}
    assert {n: v for n, v in emitted.items() if n in TIMING.macros()} == TIMING.macros()


def run_time_divisions(text: str) -> list[str]:
    return [f"{op} {operand}" for _, body in loop_bodies(code_lines(text), "#pragma HLS pipeline")
            for op, operand in re.findall(r"(?<![/*])\s([/%])\s*([A-Za-z_][\w.]*|\d+|\()", body)
            if not (operand.isdigit() or operand in CONSTANTS or operand.isupper())]


def test_the_source_checks_find_what_they_look_for():
    """The scanners above catch a division by a descriptor field in a pipelined loop (what the old kernel had)."""
    bad = """  for (int k = 0; k < n; ++k) {
#pragma HLS pipeline II=1
    const int64_t wi = e / t.per_word;  // a run-time divisor
    x[k] = wi % g + k / G;
  }"""
    assert run_time_divisions(bad) == ["/ t.per_word", "% g"]
