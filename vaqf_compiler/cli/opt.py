"""`vaqf-opt`: parse vaqf IR, run passes, print IR (in the manner of mlir-opt / xdsl-opt).

Every problem with the input or the command line is reported as one line on
stderr with exit status 1; a Python traceback is a bug in vaqf (set
VAQF_TRACEBACK=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import threading
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import ArgSpec, parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException

from vaqf_compiler import registry
from vaqf_compiler.diagnostics import (
    DEFAULT_LIMITS,
    Diagnostic,
    DiagnosticError,
    InputLimits,
    check_expectations,
    clean_message,
    diagnostic_from_vaqf_error,
    parse_expectations,
    parse_source,
    verify_module,
)
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import location_of, print_ir
from vaqf_compiler.passes.sidecar import IR_FILE

PROG = "vaqf-opt"
SPLIT_MARKER = "// -----"
_SPLIT_LINE = re.compile(r"^[ \t]*// -----[^\n]*(?:\n|$)", re.M)

# The parser recurses a few frames per nesting level; the depth cap keeps that
# bounded, and the work runs on a thread with a stack big enough for the frames.
_RECURSION_LIMIT = 30_000
_STACK_BYTES = 512 << 20

EXAMPLE = """\
example:
  vaqf-opt model.mlir                         parse, verify and print the IR
  vaqf-opt model.mlir -p 'canonicalize,cse' -o out.mlir
  vaqf-opt model.mlir --print-op-generic      print in generic form
  vaqf-opt cases.mlir --split-input-file --verify-diagnostics
      check the `// expected-error {{{{...}}}}` comments of each `// -----` chunk

errors are one line each, e.g.
  model.mlir:7:5: error: 'vit.linear' vit.linear result must be [17, 144], got [17, 143]

passes: {passes}
dialects: {dialects}
"""


class UsageError(Exception):
    """A problem with the command line itself (`vaqf-opt: error: ...`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Read vaqf IR (the `vit` dialect plus builtin, func, arith) from a file or stdin, "
            "verify it, run the passes given with -p, verify after each, and print the result."
        ),
        epilog=EXAMPLE.format(passes=", ".join(registry.PASSES), dialects=", ".join(registry.all_dialects())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", default="-", help="input .mlir file ('-' or none: stdin)")
    parser.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default: stdout)")
    parser.add_argument(
        "-p",
        "--passes",
        action="append",
        default=[],
        metavar="PIPELINE",
        help="comma-separated passes with options, e.g. 'canonicalize,my-pass{opt=1 names=a,b}'; repeatable",
    )
    parser.add_argument(
        "--split-input-file",
        action="store_true",
        help=f"process each '{SPLIT_MARKER}'-separated chunk on its own; output chunks are separated the same way",
    )
    parser.add_argument(
        "--verify-diagnostics",
        action="store_true",
        help="check the diagnostics against `// expected-error {{text}}` comments (also expected-warning/note, "
        "@+N, @-N, @above, @below, @unknown) instead of reporting them; exit 1 on any mismatch",
    )
    parser.add_argument("--print-op-generic", action="store_true", help="print ops in generic form")
    parser.add_argument("--print-ir-after-each", action="store_true", help="print the IR to stderr after every pass")
    return parser


# --------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------


# An unquoted option value holding a path (`board=boards/mine.toml`), which xDSL's lexer refuses.
_PATH_VALUE = re.compile(r'(?<=[{\s])([A-Za-z_][\w-]*)=([^\s"{},=]*(?:/|\.toml\b)[^\s"{},=]*)')


def _quote_paths(text: str) -> str:
    return _PATH_VALUE.sub(lambda m: f'{m.group(1)}="{m.group(2)}"', text)


def _with_floats(spec: ArgSpec, pass_cls: type[ModulePass]) -> ArgSpec:
    """`target-fps=1e9`: xDSL reads exponent notation as a string; a float option takes it as a float."""
    hints = typing.get_type_hints(pass_cls)
    params = dict(spec.parameters)
    for key, values in params.items():
        hint = hints.get(key.replace("-", "_"))
        if hint is float or float in typing.get_args(hint):
            converted = []
            for v in values:
                try:
                    converted.append(float(v) if isinstance(v, str) else v)
                except ValueError:
                    converted.append(v)
            params[key] = tuple(converted)
    return ArgSpec(spec.name, params)


def _dashed(message: str) -> str:
    """xDSL names options by their fields (`target_fps`); the docs and the -p syntax spell them `target-fps`."""
    if "expected arguments" not in message:
        return message
    return re.sub(r'"([a-z]\w*)"', lambda m: '"' + m.group(1).replace("_", "-") + '"', message)


def build_pipeline(specs: Sequence[str]) -> list[ModulePass]:
    """Pass instances for `-p` arguments; `UsageError` for an unknown pass or bad options."""
    passes: list[ModulePass] = []
    for text in specs:
        try:
            arg_specs = list(parse_pipeline(_quote_paths(text)))
        except ArgSpecParseError as e:
            raise UsageError(f"invalid pass pipeline '{text}': {_arg_spec_message(e)}") from None
        for spec in arg_specs:
            factory = registry.PASSES.get(spec.name)
            if factory is None:
                raise UsageError(f"unknown pass '{spec.name}' (available: {', '.join(registry.PASSES) or 'none'})")
            try:
                pass_cls = factory()
                passes.append(pass_cls.from_pass_spec(_with_floats(spec, pass_cls)))
            except (Exception, ArgSpecParseError) as e:
                raise UsageError(f"invalid options for pass '{spec.name}': {_dashed(str(e))}") from None
    return passes


def _arg_spec_message(err: ArgSpecParseError) -> str:
    """xDSL's pipeline errors are a multi-line caret picture; keep the message and column."""
    text = str(err)
    lines = [line for line in text.splitlines() if line.strip()]
    col = re.search(r"pass-pipeline:\d+:(\d+)", text)
    msg = lines[-1].strip() if lines else "syntax error"
    return f"{msg} at column {col.group(1)}" if col else msg


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------


def read_input(path: str, limits: InputLimits) -> tuple[str, str]:
    """(text, display name); `DiagnosticError`/`UsageError` for unreadable or oversized input."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limits.max_bytes + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise UsageError(f"cannot read '{name}': {e.strerror or e}") from None
    if len(data) > limits.max_bytes:
        raise DiagnosticError(Diagnostic(name, None, None, f"input is larger than {limits.max_bytes} bytes"))
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DiagnosticError(
            Diagnostic(name, line, col, f"invalid UTF-8 byte 0x{data[e.start]:02x} in input")
        ) from None


def split_chunks(text: str, split: bool) -> list[tuple[str, int]]:
    """(chunk text, number of lines before it) for each `// -----` chunk, or the whole text."""
    if not split:
        return [(text, 0)]
    chunks: list[tuple[str, int]] = []
    start = lines = 0
    for m in _SPLIT_LINE.finditer(text):
        chunks.append((text[start : m.start()], lines))
        lines += text.count("\n", start, m.end())
        start = m.end()
    chunks.append((text[start:], lines))
    return chunks


# --------------------------------------------------------------------------
# Processing
# --------------------------------------------------------------------------


@dataclass
class Options:
    passes: list[ModulePass]
    generic: bool = False
    print_ir_after_each: bool = False
    limits: InputLimits = DEFAULT_LIMITS
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)


def _pass_diagnostic(p: ModulePass, err: BaseException, module: ModuleOp, filename: str) -> Diagnostic:
    if isinstance(err, VaqfError):
        return diagnostic_from_vaqf_error(err, filename, location_of(module))
    if isinstance(err, DiagnosticException):
        message = f"pass '{p.name}' failed: {err}"
    elif isinstance(err, RecursionError):
        message = f"pass '{p.name}' failed: IR nested too deeply"
    elif isinstance(err, MemoryError):
        message = f"pass '{p.name}' ran out of memory"
    else:
        message = f"internal error in pass '{p.name}' ({type(err).__name__}): {err}"
    loc = location_of(module)
    return Diagnostic(filename, loc.line if loc else None, loc.column if loc else None, message)


def process_chunk(text: str, line_offset: int, filename: str, ctx: Context, opts: Options) -> str:
    """Parse, verify, run the passes (verifying after each); the printed result. Raises DiagnosticError."""
    module = parse_source(text, filename, ctx, line_offset=line_offset, limits=opts.limits)
    verify_module(module, filename)
    for p in opts.passes:
        try:
            p.apply(ctx, module)
        except (Exception, RecursionError, ArgSpecParseError) as e:
            if _debug() and not isinstance(e, DiagnosticException | VaqfError):
                raise
            raise DiagnosticError(_pass_diagnostic(p, e, module, filename)) from None
        if opts.print_ir_after_each:
            opts.stderr.write(f"// -----// IR Dump After {p.name} //----- //\n")
            opts.stderr.write(print_ir(module, generic=opts.generic))
        verify_module(module, filename)
    return print_ir(module, generic=opts.generic)


def _unexpected_error_message(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "out of memory"
    if isinstance(e, RecursionError):
        return "IR nested too deeply"
    return f"internal error ({type(e).__name__}): {e}"


def _debug() -> bool:
    return bool(os.environ.get("VAQF_TRACEBACK"))


def run(args: argparse.Namespace, limits: InputLimits = DEFAULT_LIMITS) -> int:
    """The tool proper; returns the exit status. Errors go to stderr, one line each."""
    err = sys.stderr
    try:
        opts = Options(
            build_pipeline(args.passes),
            generic=args.print_op_generic,
            print_ir_after_each=args.print_ir_after_each,
            limits=limits,
            stderr=err,
        )
        text, filename = read_input(args.input, limits)
    except UsageError as e:
        err.write(f"{PROG}: error: {clean_message(str(e))}\n")
        return 1
    except DiagnosticError as e:
        err.write(f"{e.diagnostic}\n")
        return 1

    ctx = registry.make_registry_context()
    outputs: list[str] = []
    status = 0
    # Passes that read the weights (assign-pot-rows) find the sidecar beside the input file.
    sidecar_token = IR_FILE.set(None if args.input == "-" else Path(args.input))
    for chunk, offset in split_chunks(text, args.split_input_file):
        produced: list[Diagnostic] = []
        try:
            outputs.append(process_chunk(chunk, offset, filename, ctx, opts))
        except DiagnosticError as e:
            produced.append(e.diagnostic)
            outputs.append("")
        except VaqfError as e:
            produced.append(diagnostic_from_vaqf_error(e, filename))
            outputs.append("")
        except (Exception, RecursionError) as e:
            if _debug():
                raise
            produced.append(Diagnostic(filename, None, None, _unexpected_error_message(e)))
            outputs.append("")
        if args.verify_diagnostics:
            try:
                expected = parse_expectations(chunk, filename, offset)
            except DiagnosticError as e:
                err.write(f"{e.diagnostic}\n")
                status = 1
                continue
            problems = check_expectations(expected, produced, filename)
            for line in problems:
                err.write(line + "\n")
            if problems:
                status = 1
        else:
            for d in produced:
                err.write(f"{d}\n")
            if produced:
                status = 1

    IR_FILE.reset(sidecar_token)
    result = f"{SPLIT_MARKER}\n".join(outputs)
    if args.output == "-":
        sys.stdout.write(result)
        sys.stdout.flush()
    elif status == 0:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(result)
        except OSError as e:
            err.write(f"{PROG}: error: cannot write '{args.output}': {e.strerror or e}\n")
            return 1
    return status


def _run_with_big_stack(args: argparse.Namespace, limits: InputLimits) -> int:
    """`run` on a thread whose stack and recursion limit fit the nesting cap."""
    result: list[int] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(run(args, limits))
        except BaseException as e:  # re-raised on the calling thread
            failure.append(e)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    try:
        threading.stack_size(_STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
        worker = threading.Thread(target=target, name="vaqf-opt", daemon=True)
        worker.start()
    except (ValueError, RuntimeError):  # platform refuses the stack size: run here
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
        return run(args, limits)
    finally:
        threading.stack_size(old_stack)
    try:
        worker.join()
    finally:
        sys.setrecursionlimit(old_limit)
    if failure:
        raise failure[0]
    return result[0]


def main(argv: Sequence[str] | None = None, *, limits: InputLimits = DEFAULT_LIMITS) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed by argparse
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    try:
        return _run_with_big_stack(args, limits)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`vaqf-opt ... | head`): stop quietly.
        try:
            sys.stdout = io.TextIOWrapper(open(os.devnull, "wb"))
        except OSError:
            pass
        return 1
    except (Exception, RecursionError) as e:
        if _debug():
            raise
        sys.stderr.write(f"{PROG}: error: {clean_message(_unexpected_error_message(e))}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
