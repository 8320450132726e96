"""vaqf-opt: the driver, its one-line errors, --verify-diagnostics, and hostile input."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from vaqf_compiler import registry
from vaqf_compiler.cli import opt
from vaqf_compiler.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Expectation,
    InputLimits,
    check_expectations,
    check_input_limits,
    clean_message,
    diagnostic_from_vaqf_error,
    parse_expectations,
)
from vaqf_compiler.dialects import vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe, parse_ir, print_ir

VALID = """\
func.func @f(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  %a = vit.gelu %x : tensor<17x48xf32> -> tensor<17x48xf32>
  %b = vit.gelu %x : tensor<17x48xf32> -> tensor<17x48xf32>
  %y = vit.add %a, %b : tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}
"""

BAD_RESULT = """\
func.func @f(%x: tensor<4xf32>) -> tensor<5xf32> {
  %y = vit.gelu %x : tensor<4xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
"""


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_opt(
    capsys: pytest.CaptureFixture[str],
    argv: Sequence[str],
    *,
    limits: InputLimits | None = None,
) -> Result:
    capsys.readouterr()
    rc = opt.main(list(argv), **({"limits": limits} if limits else {}))
    captured = capsys.readouterr()
    return Result(rc, captured.out, captured.err)


def write(tmp_path: Path, text: str | bytes, name: str = "in.mlir") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def assert_one_line_error(res: Result, *, prefix: str | None = None) -> str:
    assert res.rc == 1, res
    assert "Traceback" not in res.err
    assert len(res.err_lines) == 1, res.err
    line = res.err_lines[0]
    assert ": error: " in line
    if prefix is not None:
        assert line.startswith(prefix), line
    return line


# --------------------------------------------------------------------------
# The happy paths
# --------------------------------------------------------------------------


def test_prints_what_it_parses(capsys, tmp_path):
    res = run_opt(capsys, [write(tmp_path, VALID)])
    assert (res.rc, res.err) == (0, "")
    assert res.out == print_ir(parse_ir(VALID))
    assert res.out.startswith("builtin.module {\n")


def test_output_file_and_generic_form(capsys, tmp_path):
    out = tmp_path / "out.mlir"
    res = run_opt(capsys, [write(tmp_path, VALID), "-o", str(out), "--print-op-generic"])
    assert (res.rc, res.out, res.err) == (0, "", "")
    assert out.read_text().startswith('"builtin.module"() ({')
    assert out.read_text() == print_ir(parse_ir(VALID), generic=True)


def test_reads_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(VALID.encode())))
    res = run_opt(capsys, [])
    assert res.rc == 0 and "vit.add %a, %b" in res.out


def test_passes_run_in_order_and_print_after_each(capsys, tmp_path):
    res = run_opt(capsys, [write(tmp_path, VALID), "-p", "cse", "-p", "dce", "--print-ir-after-each"])
    assert res.rc == 0
    assert "vit.add %a, %a" in res.out and "%b" not in res.out
    headers = [ln for ln in res.err_lines if "IR Dump After" in ln]
    assert headers == ["// -----// IR Dump After cse //----- //", "// -----// IR Dump After dce //----- //"]


def test_deterministic(capsys, tmp_path):
    path = write(tmp_path, VALID)
    first = run_opt(capsys, [path, "-p", "canonicalize,cse"])
    second = run_opt(capsys, [path, "-p", "canonicalize,cse"])
    assert first == second


def test_split_input_file_keeps_going_and_numbers_lines_of_the_file(capsys, tmp_path):
    text = VALID + "// -----\n" + BAD_RESULT + "// -----\n" + VALID
    res = run_opt(capsys, [write(tmp_path, text), "--split-input-file"])
    assert res.rc == 1
    # The bad op is on line 2 of the second chunk, which starts after 7 lines.
    assert res.err_lines == [f"{tmp_path}/in.mlir:9:3: error: 'vit.gelu' vit.gelu result type must equal its input type"]
    chunks = res.out.split("// -----\n")
    assert len(chunks) == 3 and chunks[1] == ""
    assert chunks[0] == chunks[2] == print_ir(parse_ir(VALID))


def test_split_chunks_offsets():
    text = "a\nb\n// -----\nc\n  // ----- trailing words\nd\n// -----"
    assert opt.split_chunks(text, True) == [("a\nb\n", 0), ("c\n", 3), ("d\n", 5), ("", 6)]
    assert opt.split_chunks(text, False) == [(text, 0)]


def test_blank_input_is_an_empty_module(capsys, tmp_path):
    res = run_opt(capsys, [write(tmp_path, "// nothing here\n\n")])
    assert (res.rc, res.out) == (0, "builtin.module {\n}\n")


def test_help_has_an_example(capsys):
    res = run_opt(capsys, ["--help"])
    assert res.rc == 0
    assert "example:" in res.out and "vaqf-opt model.mlir -p" in res.out
    assert "passes: canonicalize, cse, dce" in res.out


# --------------------------------------------------------------------------
# One-line errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vit.bogus\n", ":1:1: error: unknown operation 'vit.bogus'"),
        (
            "func.func @f() {\n  linalg.yield\n}\n",
            ":2:3: error: unknown dialect 'linalg' in operation 'linalg.yield' (registered dialects: accel, arith, builtin, func, vit)",
        ),
        ("func.func @f(%x: !tosa.t) {\n  func.return\n}\n", ":1:18: error: unknown dialect 'tosa' in attribute or type 'tosa.t'"),
        ("func.func @f(\n", ":2:1: error: Expected argument or type"),
        ("func.func @f() {\n  func.return %nope : i32\n}\n", ":2:15: error: values used but not defined: [%nope]"),
        ("%\n", ":1:1: error: expected an identifier after '%'"),
        ('func.func @f() attributes {a = "x\\q"} {\n  func.return\n}\n', ":1:34: error: invalid character or escape '\\q'"),
        (BAD_RESULT, ":2:3: error: 'vit.gelu' vit.gelu result type must equal its input type"),
    ],
)
def test_bad_input_gives_one_located_line(capsys, tmp_path, text, expected):
    path = write(tmp_path, text)
    line = assert_one_line_error(run_opt(capsys, [path]), prefix=path)
    assert line.startswith(path + expected), line


def test_attribute_verifier_during_parsing_points_at_the_op(capsys, tmp_path):
    text = 'func.func @f(%x: tensor<4xf32>) -> tensor<2xf32> {\n  %y = vit.linear %x weight #vit.param<"", [2, 4]> : tensor<4xf32> -> tensor<2xf32>\n  func.return %y : tensor<2xf32>\n}\n'
    path = write(tmp_path, text)
    line = assert_one_line_error(run_opt(capsys, [path]))
    assert line == f"{path}:2:3: error: 'vit.linear' #vit.param: parameter name must not be empty"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-p", "no-such-pass"], "vaqf-opt: error: unknown pass 'no-such-pass' (available: canonicalize, cse, dce"),
        (["-p", "cse{"], "vaqf-opt: error: invalid pass pipeline 'cse{': Expected argument name here at column 5"),
        (["-p", "cse}x"], "vaqf-opt: error: invalid pass pipeline 'cse}x':"),
        (["-p", "cse,,dce"], "vaqf-opt: error: invalid pass pipeline 'cse,,dce': Expected pass name here"),
        (["-p", "canonicalize{x=1}"], "vaqf-opt: error: invalid options for pass 'canonicalize': Provided arguments"),
    ],
)
def test_bad_pipeline(capsys, tmp_path, argv, expected):
    res = run_opt(capsys, [write(tmp_path, VALID), *argv])
    assert assert_one_line_error(res).startswith(expected)
    assert res.out == ""


def test_unreadable_input(capsys, tmp_path):
    line = assert_one_line_error(run_opt(capsys, [str(tmp_path / "missing.mlir")]))
    assert line == f"vaqf-opt: error: cannot read '{tmp_path}/missing.mlir': No such file or directory"
    line = assert_one_line_error(run_opt(capsys, [str(tmp_path)]))
    assert line == f"vaqf-opt: error: cannot read '{tmp_path}': Is a directory"


def test_unwritable_output(capsys, tmp_path):
    line = assert_one_line_error(run_opt(capsys, [write(tmp_path, VALID), "-o", str(tmp_path / "no" / "x.mlir")]))
    assert line.startswith("vaqf-opt: error: cannot write")


def test_output_file_not_written_on_error(capsys, tmp_path):
    out = tmp_path / "out.mlir"
    assert_one_line_error(run_opt(capsys, [write(tmp_path, BAD_RESULT), "-o", str(out)]))
    assert not out.exists()


def test_usage_error_returns_2(capsys):
    assert run_opt(capsys, ["--no-such-flag"]).rc == 2


# --------------------------------------------------------------------------
# Passes that fail
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FailingPass(ModulePass):
    name = "test-failing"
    how: str = "pass-failed"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = next(o for o in op.walk() if isinstance(o, vit.GeluOp))
        if self.how == "pass-failed":
            raise PassFailedException("cannot do it")
        if self.how == "vaqf-error":
            raise VaqfError("unsupported here", where=describe(target))
        if self.how == "break-ir":  # leave IR that does not verify
            bad = vit.GeluOp.create(operands=[target.operands[0]], result_types=[vit.tensor(1)])
            assert target.parent is not None
            target.parent.insert_op_before(bad, target)
            return
        if self.how == "crash":
            raise KeyError("bug in a pass")
        if self.how == "recursion":
            raise RecursionError("maximum recursion depth exceeded")


@dataclass(frozen=True)
class OptionsPass(ModulePass):
    """Records its options on the module, to check they are parsed."""

    name = "test-options"
    bits: int = 8
    names: tuple[str, ...] = ()
    flag: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        op.attributes["test.opts"] = StringAttr(f"{self.bits} {','.join(self.names)} {self.flag}")


@pytest.fixture
def test_passes(monkeypatch):
    monkeypatch.setitem(registry.PASSES, FailingPass.name, lambda: FailingPass)
    monkeypatch.setitem(registry.PASSES, OptionsPass.name, lambda: OptionsPass)


def test_pass_options_are_parsed(capsys, tmp_path, test_passes):
    res = run_opt(capsys, [write(tmp_path, VALID), "-p", "test-options{bits=4 names=a,b flag=true}"])
    assert res.rc == 0, res.err
    assert 'test.opts = "4 a,b True"' in res.out
    res = run_opt(capsys, [write(tmp_path, VALID), "-p", "test-options{bits=x}"])
    assert assert_one_line_error(res).startswith("vaqf-opt: error: invalid options for pass 'test-options'")


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("pass-failed", ":1:1: error: pass 'test-failing' failed: cannot do it"),
        ("vaqf-error", ":2:3: error: 'vit.gelu' unsupported here"),
        ("break-ir", ":1:1: error: 'vit.gelu' vit.gelu result type must equal its input type"),
        ("crash", ":1:1: error: internal error in pass 'test-failing' (KeyError): 'bug in a pass'"),
        ("recursion", ":1:1: error: pass 'test-failing' failed: IR nested too deeply"),
    ],
)
def test_failing_pass_gives_one_line(capsys, tmp_path, test_passes, how, expected):
    path = write(tmp_path, VALID)
    line = assert_one_line_error(run_opt(capsys, [path, "-p", f"test-failing{{how={how}}}"]), prefix=path)
    assert line == path + expected


def test_pass_error_in_later_chunk_names_line_of_the_file(capsys, tmp_path, test_passes):
    path = write(tmp_path, VALID + "// -----\n" + VALID)
    res = run_opt(capsys, [path, "--split-input-file", "-p", "test-failing{how=vaqf-error}"])
    assert res.rc == 1
    assert res.err_lines == [
        f"{path}:2:3: error: 'vit.gelu' unsupported here",
        f"{path}:9:3: error: 'vit.gelu' unsupported here",
    ]


def test_vaqf_error_conversion():
    d = diagnostic_from_vaqf_error(VaqfError("m", where="a.mlir:3:4: 'vit.add'"), "a.mlir")
    assert (d.file, d.line, d.column, d.message) == ("a.mlir", 3, 4, "'vit.add' m")
    d = diagnostic_from_vaqf_error(VaqfError("m", where="weights.npz"), "a.mlir")
    assert str(d) == "a.mlir: error: weights.npz: m"
    d = diagnostic_from_vaqf_error(VaqfError("plain"), "a.mlir")
    assert str(d) == "a.mlir: error: plain"


# --------------------------------------------------------------------------
# --verify-diagnostics
# --------------------------------------------------------------------------


def test_expectation_designators():
    text = "\n".join(
        [
            "op1  // expected-error {{same line}}",  # 1
            "// expected-error@+2 {{two below}}",  # 2
            "// expected-warning @-1 {{one above}}",  # 3
            "op4",  # 4
            "// expected-note@above {{above}}",  # 5 -> 4
            "// expected-error@below {{below one}}",  # 6
            "// expected-remark@below {{below two}}",  # 7
            "op8",  # 8
            "// expected-error@unknown {{anywhere}}",  # 9
        ]
    )
    got = parse_expectations(text, "t.mlir", line_offset=100)
    assert got == [
        Expectation("error", 101, "same line", 101),
        Expectation("error", 104, "two below", 102),
        Expectation("warning", 102, "one above", 103),
        Expectation("note", 104, "above", 105),
        Expectation("error", 108, "below one", 106),
        Expectation("remark", 108, "below two", 107),
        Expectation("error", None, "anywhere", 109),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "op // expected-error {{unterminated",
        "op // expected-error no braces",
        "op // expected-error@+x {{bad offset}}",
        "op // expected-error {{}}",
        "op // expected-error@+5 {{past the end}}",
        "// expected-error@above {{nothing above}}",
        "op\n// expected-error@below {{nothing below}}",
    ],
)
def test_malformed_expectations_are_errors(text):
    with pytest.raises(DiagnosticError):
        parse_expectations(text, "t.mlir")


def test_check_expectations():
    exp = [Expectation("error", 5, "must be [48]", 4), Expectation("error", None, "pass failed", 9)]
    ok = [Diagnostic("t.mlir", 5, 3, "'vit.linear' bias must be [48], got [47]"), Diagnostic("t.mlir", None, None, "pass failed: x")]
    assert check_expectations(exp, ok, "t.mlir") == []
    # Wrong line, wrong text, wrong severity: each is unexpected, and the expectation unmet.
    for bad in (
        Diagnostic("t.mlir", 6, 3, "'vit.linear' bias must be [48], got [47]"),
        Diagnostic("t.mlir", 5, 3, "'vit.linear' bias must be [10]"),
        Diagnostic("t.mlir", 5, 3, "'vit.linear' bias must be [48]", severity="warning"),
    ):
        problems = check_expectations(exp[:1], [bad], "t.mlir")
        assert len(problems) == 2
        assert problems[0].startswith(f"{bad.where}: error: unexpected {bad.severity}: ")
        assert problems[1] == 't.mlir:4: error: expected error "must be [48]" (at line 5) was not produced'
    # Each expectation matches once.
    twice = [ok[0], ok[0]]
    assert check_expectations(exp[:1], twice, "t.mlir") == [
        "t.mlir:5:3: error: unexpected error: 'vit.linear' bias must be [48], got [47]"
    ]


def test_verify_diagnostics_end_to_end(capsys, tmp_path):
    expected = BAD_RESULT.replace("tensor<5xf32>\n", "tensor<5xf32> // expected-error {{result type must equal}}\n", 1)
    good = VALID + "// -----\n" + expected
    res = run_opt(capsys, [write(tmp_path, good), "--split-input-file", "--verify-diagnostics"])
    assert (res.rc, res.err) == (0, "")
    assert res.out.split("// -----\n")[0] == print_ir(parse_ir(VALID))

    path = write(tmp_path, VALID + "// -----\n" + BAD_RESULT, "bad.mlir")
    res = run_opt(capsys, [path, "--split-input-file", "--verify-diagnostics"])
    assert res.rc == 1
    assert res.err_lines == [f"{path}:9:3: error: unexpected error: 'vit.gelu' vit.gelu result type must equal its input type"]

    missing = VALID.replace("tensor<17x48xf32>\n", "tensor<17x48xf32> // expected-error {{never}}\n", 1)
    path = write(tmp_path, missing, "miss.mlir")
    res = run_opt(capsys, [path, "--verify-diagnostics"])
    assert res.rc == 1
    assert res.err_lines == [f'{path}:2: error: expected error "never" (at line 2) was not produced']


# --------------------------------------------------------------------------
# Hostile input
# --------------------------------------------------------------------------

HOSTILE: dict[str, bytes] = {
    "nested regions": b"builtin.module {" * 100_000,
    "nested types": b"func.func @f(%x: " + b"tensor<" * 100_000,
    "nested attributes": b"func.func @f() attributes {a = " + b"[" * 100_000,
    "nested parentheses": b"(" * 100_000,
    "huge string": b'func.func @f() attributes {a = "' + b"a" * (2 << 20) + b'"} {}',
    "unterminated string": b'func.func @f() attributes {a = "' + b"a" * 5000 + b"\n} {}",
    "string with a bad escape": b'func.func @f() attributes {a = "' + b"a" * 5000 + b'\\z"} {}',
    "huge dense literal": b"func.func @f() attributes {a = dense<[" + b"1.0, " * 300_000 + b"1.0]> : tensor<300001xf32>} {}",
    "huge splat": b"func.func @f() {\n%0 = arith.constant dense<1.0> : tensor<100000x100000xf32>\nfunc.return\n}",
    "splat through an alias": b"!t = tensor<100000000xf32>\nfunc.func @f() {\n%0 = arith.constant dense<1.0> : !t\nfunc.return\n}",
    "huge integer": b"func.func @f() {\n%0 = arith.constant " + b"9" * 10_000 + b" : i64\nfunc.return\n}",
    "wide integer type": b"func.func @f() {\n%0 = arith.constant 1 : i99999999999\nfunc.return\n}",
    "not utf-8": b"func.func @f() {\n\xff\xfe}",
    "nul bytes": b"func.func @f() {\x00\x00}",
    "random bytes": bytes(random.Random(1).randrange(256) for _ in range(50_000)),
    "random ascii": bytes(random.Random(2).choice(b"%@^!#{}()<>[]:=,.x0123456789 \"\n\\-abcvit") for _ in range(50_000)),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_gives_one_line(capsys, tmp_path, name):
    path = write(tmp_path, HOSTILE[name])
    start = time.monotonic()
    res = run_opt(capsys, [path])
    assert time.monotonic() - start < 5
    line = assert_one_line_error(res, prefix=path)
    assert "internal error" not in line
    assert len(line) < 1200


def test_input_size_cap(capsys, tmp_path):
    path = write(tmp_path, VALID)
    line = assert_one_line_error(run_opt(capsys, [path], limits=InputLimits(max_bytes=100)))
    assert line == f"{path}: error: input is larger than 100 bytes"


def test_nesting_just_under_the_limit_parses_prints_and_runs_passes(capsys, tmp_path):
    path = write(tmp_path, "builtin.module {" * 199 + "}" * 199)
    res = run_opt(capsys, [path, "-p", "canonicalize,cse,dce", "--print-op-generic"])
    assert res.rc == 0, res.err


def test_recursion_error_is_a_last_resort(capsys, tmp_path):
    # With the bracket cap lifted, the parser itself runs out of stack: still one line.
    path = write(tmp_path, "builtin.module {" * 20_000)
    line = assert_one_line_error(run_opt(capsys, [path], limits=InputLimits(max_depth=10**9)))
    assert "nested too deeply" in line


def test_check_input_limits_ignores_comments_and_strings():
    deep = "[" * 300
    check_input_limits(f'// {deep}\n"{deep}"', "x.mlir")
    with pytest.raises(DiagnosticError, match="nesting deeper than 200"):
        check_input_limits(f"// ok\n  {deep}", "x.mlir")
    with pytest.raises(DiagnosticError) as info:
        check_input_limits(f"\n\n  {deep}", "x.mlir", line_offset=10)
    assert info.value.diagnostic.where == "x.mlir:13:203"
    # `->` is not a closing bracket; SSA names that look like integer types are fine.
    check_input_limits("(%i123456: tensor<4xf32>) -> (tensor<4xf32>)" * 100, "x.mlir")


def test_mutated_modules_never_crash(capsys, tmp_path):
    """Seeded random edits of a valid module: exit 0 or one located line, never a traceback."""
    base = print_ir(parse_ir(VALID)) + print_ir(parse_ir(BAD_RESULT.replace("5xf32", "4xf32")))
    alphabet = list("%@^!#{}()<>[]:=,.x0123456789 \"\n\\-") + ["tensor<", "f16", "i64", "#vit.param<\"q\", [2]>"]
    rng = random.Random(1234)
    path = tmp_path / "m.mlir"
    for _ in range(150):
        s = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(s))
            if rng.random() < 0.4:
                del s[i : i + rng.randint(1, 4)]
            else:
                s.insert(i, rng.choice(alphabet))
        path.write_text("".join(s))
        res = run_opt(capsys, [str(path), "-p", "cse"])
        assert res.rc in (0, 1)
        assert "Traceback" not in res.err and "internal error" not in res.err, res.err
        if res.rc:
            assert len(res.err_lines) == 1, res.err


def test_clean_message():
    assert clean_message("a\n  b\x1b[31m") == "a b\\x1b[31m"
    assert clean_message("x" * 2000).endswith("... (1000 more characters)")


# --------------------------------------------------------------------------
# As a program
# --------------------------------------------------------------------------


def vaqf_opt(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    exe = os.path.join(os.path.dirname(sys.executable), "vaqf-opt")
    env = {k: v for k, v in os.environ.items() if k != "VAQF_TRACEBACK"}
    return subprocess.run([exe, *args], input=stdin, capture_output=True, timeout=60, env=env)


def test_exit_codes_as_a_program(tmp_path):
    ok = vaqf_opt("-", stdin=VALID.encode())
    assert (ok.returncode, ok.stderr) == (0, b"")
    assert ok.stdout.decode() == print_ir(parse_ir(VALID))

    deep = vaqf_opt(stdin=b"builtin.module {" * 100_000)
    assert deep.returncode == 1
    assert deep.stderr == b"<stdin>:1:3216: error: nesting deeper than 200 levels of brackets or regions\n"

    garbage = vaqf_opt(stdin=HOSTILE["random ascii"])
    assert garbage.returncode == 1 and b"Traceback" not in garbage.stderr
    assert garbage.stderr.count(b"\n") == 1

    missing = vaqf_opt(str(tmp_path / "nope.mlir"))
    assert missing.returncode == 1 and b"Traceback" not in missing.stderr


def test_registry_factories_load():
    for name, factory in registry.all_dialects().items():
        assert factory().name == name
    for name, factory in registry.PASSES.items():
        assert factory().name == name
    ctx = registry.make_registry_context()
    assert sorted(ctx.registered_dialect_names) == ["accel", "arith", "builtin", "func", "vit"]


def test_module_with_every_vit_op_runs_through_the_generic_passes(capsys):
    path = Path(__file__).parents[1] / "filecheck" / "dialects" / "vit" / "ops.mlir"
    res = run_opt(capsys, [str(path), "-p", "canonicalize,cse,dce"])
    assert res.rc == 0, res.err
    assert isinstance(parse_ir(res.out).body.block.first_op, func.FuncOp)
