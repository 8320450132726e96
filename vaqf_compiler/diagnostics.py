"""Diagnostics with source locations: guarded parsing, verification, `--verify-diagnostics`.

Every user-visible problem with a piece of IR becomes one `Diagnostic`, printed
as one line in the style of mlir-opt:

    model.mlir:12:5: error: 'vit.linear' vit.linear: input has 192 features but weight [768, 384] expects 384

* `parse_source` parses text after checking hostile-input limits (size, bracket
  depth, literal sizes) and turns every parser failure into a `DiagnosticError`.
* `verify_module` verifies op by op (`op.verify(verify_nested_ops=False)`), so the
  error names the op that failed and where it was parsed (`vaqf_compiler.ir`'s
  side table of locations).
* `parse_expectations` / `check_expectations` implement mlir-opt's
  `--verify-diagnostics`: `// expected-error {{text}}` comments, with optional
  `@+N`, `@-N`, `@above`, `@below` or `@unknown` designators.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, OpResult
from xdsl.traits import NoTerminator
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.utils.lexer import Span

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import LocatingParser, SourceLoc, location_of, set_location
from vaqf_compiler.registry import make_registry_context

MAX_MESSAGE_CHARS = 1000


# --------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------


def clean_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """One printable line: newlines folded, control characters escaped, length capped."""
    text = " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return text


@dataclass(frozen=True)
class Diagnostic:
    """One message about the input; `line`/`column` are None when unknown."""

    file: str
    line: int | None
    column: int | None
    message: str
    severity: str = "error"

    @property
    def where(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {clean_message(self.message)}"


class DiagnosticError(VaqfError):
    """A `VaqfError` carrying a located `Diagnostic` (what parsing and verification raise)."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(clean_message(diagnostic.message), where=diagnostic.where)
        self.diagnostic = diagnostic


_LOC_PREFIX = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+)(?::\s*(?P<rest>.*))?$", re.S)


def diagnostic_from_vaqf_error(err: VaqfError, filename: str, fallback: SourceLoc | None = None) -> Diagnostic:
    """Turn a `VaqfError` (e.g. raised by a pass with `where=describe(op)`) into a Diagnostic.

    An error that names no place (a module-wide complaint of a pass) is put at
    `fallback` when given, e.g. where the module began.
    """
    if isinstance(err, DiagnosticError):
        return err.diagnostic
    where = err.where
    if where and (m := _LOC_PREFIX.match(where)):
        rest = m.group("rest")
        message = f"{rest} {err.message}" if rest else err.message
        return Diagnostic(m.group("file"), int(m.group("line")), int(m.group("col")), message)
    message = f"{where}: {err.message}" if where else err.message
    if fallback is not None:
        return Diagnostic(fallback.file, fallback.line, fallback.column, message)
    return Diagnostic(filename, None, None, message)


def _position_to_line_col(text: str, pos: int, line_offset: int = 0) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, pos) + 1
    return text.count("\n", 0, pos) + 1 + line_offset, pos - line_start + 1


# --------------------------------------------------------------------------
# Hostile-input limits
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class InputLimits:
    """Caps that keep absurd input from exhausting the stack, memory or time."""

    max_bytes: int = 256 << 20  # whole input
    max_depth: int = 200  # nesting of (), [], {}, <>
    max_literal_chars: int = 1 << 20  # one string literal or dense<...>/array<...> literal
    max_dense_elements: int = 1 << 20  # elements a dense<...> literal expands to (splats included)
    max_int_width: int = 1 << 16  # bits of an integer type (xDSL computes 2**width for range checks)


DEFAULT_LIMITS = InputLimits()

_SCAN = re.compile(
    r'"(?:[^"\\\n]|\\.)*(?P<close>")?'  # string literal (possibly unterminated)
    r"|//[^\n]*"  # comment
    r"|->"  # arrow, not a closing bracket
    r"|(?<![%@^#!$.\-])(?:\b[su]?|(?<=\dx))i(?P<width>\d{5,})\b"  # an integer type wide enough to matter
    r"|\b(?:dense_resource|dense|array|sparse)\s*<"  # literal opening (the lexer allows `dense\n<`)
    r"|[\[\](){}<>]"
)
# The body of a string literal as xDSL's lexer accepts it (each alternative starts
# with a different character, so this never backtracks).
_STRING_BODY = re.compile(r'(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*')
_DENSE_TYPE = re.compile(r"\s*[:=]\s*(?:tensor|vector)\s*<\s*((?:\d{1,30}\s*x\s*)+)")


_ZERO_WIDTH_ARRAY = re.compile(r"\s*[su]?i0\b")
_TYPE_ALIAS = re.compile(r"^[ \t]*!([A-Za-z_][\w$.-]*)[ \t]*(?==)", re.M)
_DENSE_ALIAS = re.compile(r"\s*:\s*!([A-Za-z_][\w$.-]*)")


def _elements(type_match: re.Match[str] | None) -> int:
    if type_match is None:
        return 0
    return math.prod(int(d) for d in re.split(r"\s*x\s*", type_match.group(1).strip()) if d)


class _DenseSizer:
    """Elements of the `: tensor<AxBx...>` (or `: !alias` of one) after a dense literal."""

    def __init__(self, text: str):
        self.text = text
        self.aliases: dict[str, int] | None = None

    def __call__(self, pos: int) -> int:
        if (t := _DENSE_TYPE.match(self.text, pos)) is not None:
            return _elements(t)
        if (a := _DENSE_ALIAS.match(self.text, pos)) is None:
            return 0
        if self.aliases is None:  # `!name = tensor<...>` definitions, found once
            self.aliases = {
                d.group(1): _elements(_DENSE_TYPE.match(self.text, d.end())) for d in _TYPE_ALIAS.finditer(self.text)
            }
        return self.aliases.get(a.group(1), 0)


def check_input_limits(
    text: str, filename: str, limits: InputLimits = DEFAULT_LIMITS, line_offset: int = 0
) -> None:
    """Reject input that would blow the Python stack or memory, naming the line.

    A linear scan that skips comments and string literals and tracks bracket
    depth; the parser itself is recursive, so depth must be bounded before parsing.
    """

    def fail(pos: int, message: str) -> DiagnosticError:
        line, col = _position_to_line_col(text, pos, line_offset)
        return DiagnosticError(Diagnostic(filename, line, col, message))

    depth = 0
    literals: list[tuple[int, int, bool]] = []  # (depth, start, is_dense)
    dense_elements = _DenseSizer(text)
    for m in _SCAN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == '"':
            if len(tok) > limits.max_literal_chars:
                raise fail(m.start(), f"string literal of {len(tok)} characters exceeds the limit of {limits.max_literal_chars}")
            # xDSL's string regex backtracks exponentially on a string it cannot
            # match: only let through what it matches at once.
            if m.group("close") is None:
                raise fail(m.start(), "unterminated string literal")
            if (ok := _STRING_BODY.match(tok, 1, len(tok) - 1).end()) != len(tok) - 1:  # type: ignore[union-attr]
                bad = tok[ok : ok + 2] if tok[ok] == "\\" else tok[ok]
                raise fail(m.start() + ok, f"invalid character or escape '{bad}' in string literal")
            continue
        if c == "/" or tok == "->":
            continue
        if (width := m.group("width")) is not None:
            if len(width) > 9 or int(width) > limits.max_int_width:
                raise fail(m.start(), f"integer type {tok} is wider than {limits.max_int_width} bits")
            continue
        if tok[-1] in "([{<":
            depth += 1
            if depth > limits.max_depth:
                raise fail(m.start(), f"nesting deeper than {limits.max_depth} levels of brackets or regions")
            if len(tok) > 1:
                word = tok[:-1].rstrip()
                literals.append((depth, m.start(), word == "dense"))
                if word == "array" and _ZERO_WIDTH_ARRAY.match(text, m.end()):
                    # xDSL's DenseArrayBase verifier divides by the element width.
                    raise fail(m.start(), "a dense array's elements must be at least 1 bit wide (got array<i0>)")
            continue
        if literals and literals[-1][0] == depth:
            _, start, is_dense = literals.pop()
            if m.end() - start > limits.max_literal_chars:
                raise fail(start, f"literal of {m.end() - start} characters exceeds the limit of {limits.max_literal_chars}")
            if is_dense and (n := dense_elements(m.end())) > limits.max_dense_elements:
                raise fail(start, f"dense literal of {n} elements exceeds the limit of {limits.max_dense_elements}")
        depth = max(depth - 1, 0)
    for _, start, _ in literals:
        if len(text) - start > limits.max_literal_chars:
            raise fail(start, f"unterminated literal of more than {limits.max_literal_chars} characters")


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def _registered_dialects(ctx: Context) -> list[str]:
    return sorted(set(ctx.registered_dialect_names) | {d.name for d in ctx.loaded_dialects})


def _explain_parse_error(err: ParseError, ctx: Context) -> tuple[str, int]:
    """(message, position) for a ParseError; "unknown dialect" when the name's dialect is not one we know.

    xDSL points an unregistered name's error past the name; point at the name itself.
    """
    msg, pos = err.msg, err.span.start
    content = err.span.input.content
    if msg == "Expected suffix identifier after {first_char}" and isinstance(content, str):  # xDSL's typo
        msg = f"expected an identifier after '{content[pos : pos + 1]}'"
    if (u := re.match(r"values used but not defined: \[(%[^\],\s]+)", msg)) and isinstance(content, str):
        # xDSL reports this at the end of the input; point at the first use instead.
        if (use := re.search(re.escape(u.group(1)) + r"(?![\w$.#-])", content)) is not None:
            pos = use.start()
        return msg, pos
    m = re.fullmatch(r"Operation (\S+) is not registered", msg) or re.fullmatch(r"'([^']+)' is not registered", msg)
    if not m:
        return msg, pos
    name = m.group(1)
    if isinstance(content, str) and (at := content.rfind(name.split(".")[0], 0, pos + 1)) >= 0:
        pos = at - 1 if at > 0 and content[at - 1] in "\"#!" else at
    kind = "operation" if msg.startswith("Operation") else "attribute or type"
    dialect, dot, _ = name.partition(".")
    known = _registered_dialects(ctx)
    if dot and dialect not in known:
        return f"unknown dialect '{dialect}' in {kind} '{name}' (registered dialects: {', '.join(known)})", pos
    return f"unknown {kind} '{name}'", pos


def _parse_error_message(err: BaseException) -> str:
    if isinstance(err, RecursionError):
        return "input nested too deeply to parse"
    if isinstance(err, MemoryError):
        return "out of memory while parsing"
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return "integer literal too large"
    if isinstance(err, NotImplementedError):
        return f"unsupported construct: {err}"
    if isinstance(err, DiagnosticException | ValueError | OverflowError | UnicodeError):
        return str(err) or type(err).__name__
    return f"internal error while parsing ({type(err).__name__}): {err}"


def _is_blank(text: str) -> bool:
    """Only whitespace and comments."""
    stripped = text.lstrip()
    return not stripped or (stripped.startswith("//") and not re.sub(r"//[^\n]*", "", stripped).strip())


_OP_NAME = re.compile(r'(?:[%^][^=\n]*=\s*)?"?([A-Za-z_][\w.$-]*)')


class _GuardedParser(LocatingParser):
    """Remembers the innermost op being parsed when something other than a ParseError escapes.

    Attribute verifiers and IRDL's type constraints raise while the op is being
    parsed; the error then belongs to that op, not to wherever the lexer stands.
    """

    failed_op: Span | None = None

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        try:
            return super().parse_operation()
        except ParseError:
            raise
        except BaseException:
            if self.failed_op is None:
                self.failed_op = start
            raise


def parse_source(
    text: str,
    filename: str,
    ctx: Context,
    *,
    line_offset: int = 0,
    limits: InputLimits = DEFAULT_LIMITS,
) -> ModuleOp:
    """Parse one module, raising `DiagnosticError` (never anything else) for bad input.

    `line_offset` is the number of lines before `text` in the user's file (a
    `--split-input-file` chunk); diagnostics name lines of that file.
    """
    check_input_limits(text, filename, limits, line_offset)
    if _is_blank(text):
        module = ModuleOp([])  # like mlir-opt; xDSL's parser refuses empty input
        set_location(module, SourceLoc(filename, 1 + line_offset, 1))
        return module
    # Ops record lines of the whole file (LocatingParser's line_offset); xDSL's own
    # spans (parse errors) count from the chunk, so those get `shift` added.
    shift = line_offset
    parser: _GuardedParser | None = None
    try:
        # Constructing the parser already lexes the first token, which can fail.
        parser = _GuardedParser(ctx, text, filename, line_offset)
        return parser.parse_module()
    except ParseError as e:
        message, pos = _explain_parse_error(e, ctx)
        content = e.span.input.content
        if isinstance(content, str):
            line, col = _position_to_line_col(content, pos, shift)
        else:
            loc = e.span.get_location()
            line, col = loc.line + shift, loc.col
        raise DiagnosticError(Diagnostic(filename, line, col, message)) from None
    except (Exception, RecursionError) as e:
        # Attribute verifiers run while parsing (`#vit.param<"", [1]>`), int() refuses
        # 5000-digit literals, ...: report them at the op being parsed.
        line = col = None
        message = _parse_error_message(e)
        if parser is not None:
            try:
                if parser.failed_op is not None:
                    span = parser.failed_op
                    if (name := _OP_NAME.match(span.input.content, span.start)) is not None:
                        message = f"'{name.group(1)}' {message}"
                else:
                    span = parser._current_token.span  # pyright: ignore[reportPrivateUsage]
                loc = span.get_location()
                line, col = loc.line + shift, loc.col
            except Exception:
                pass
        raise DiagnosticError(Diagnostic(filename, line, col, message)) from None


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def op_diagnostic(op: Operation, message: str, filename: str, severity: str = "error") -> Diagnostic:
    """A diagnostic about `op`: `file:line:col: error: '<op name>' <message>`.

    An op built by a pass has no recorded location; it borrows its nearest located ancestor's.
    """
    loc = None
    cur: Operation | None = op
    while cur is not None and (loc := location_of(cur)) is None:
        cur = cur.parent_op()
    text = f"'{op.name}' {message}"
    if loc is None:
        return Diagnostic(filename, None, None, text, severity)
    return Diagnostic(loc.file, loc.line, loc.column, text, severity)


def _verify_blocks(op: Operation) -> None:
    """The block checks `Region.verify` would make, which `verify_nested_ops=False` skips."""
    for region in op.regions:
        for block in region.blocks:
            if block.first_op is None and len(region.blocks) == 1 and not op.has_trait(NoTerminator):
                raise VerifyException("contains an empty block in a single-block region that expects a terminator")


class _Dominance:
    """SSA dominance within single blocks, which xDSL's verifier does not check.

    `%a = vit.gelu %a` or a use above its definition parses in xDSL; mlir-opt
    rejects it ("operand does not dominate this use") and so do we. Uses across
    blocks of one region are left alone (no branch ops are registered).
    """

    def __init__(self) -> None:
        self.index: dict[Block, dict[Operation, int]] = {}

    def _pos(self, op: Operation) -> int:
        block = op.parent_block()
        assert block is not None
        if block not in self.index:
            self.index[block] = {o: i for i, o in enumerate(block.ops)}
        return self.index[block][op]

    def check(self, op: Operation) -> None:
        for i, operand in enumerate(op.operands):
            if isinstance(operand, OpResult):
                def_block = operand.op.parent_block()
            elif isinstance(operand, BlockArgument):
                def_block = operand.block
            else:
                continue
            if def_block is None or isinstance(def_block.parent_op(), ModuleOp):
                continue  # detached, or a graph region (the module body)
            user: Operation | None = op
            while user is not None and user.parent_block() is not def_block:
                if user.parent_region() is def_block.parent:
                    break  # another block of the defining region: not ours to judge
                user = user.parent_op()
            if user is None:
                raise VerifyException(f"operand #{i} is used outside the region that defines it")
            if user.parent_block() is not def_block or isinstance(operand, BlockArgument):
                continue
            if self._pos(operand.op) >= self._pos(user):
                raise VerifyException(f"operand #{i} does not dominate this use (it is defined at or after it)")


def verify_module(root: Operation, filename: str) -> None:
    """Verify `root` and everything nested, op by op; raise `DiagnosticError` at the first failure."""
    dominance = _Dominance()
    for op in root.walk():
        try:
            op.verify(verify_nested_ops=False)
            _verify_blocks(op)
            dominance.check(op)
        except (Exception, RecursionError) as e:
            if isinstance(e, DiagnosticException):
                message = str(e)
            else:
                message = f"verifier failed ({type(e).__name__}): {e}"
            raise DiagnosticError(op_diagnostic(op, message, filename)) from None


def read_ir_file(path: Path) -> ModuleOp:
    """Read, parse and verify a user's IR file (for `vaqf` subcommands); errors are one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VaqfError(f"IR file {path} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VaqfError(f"cannot read IR file {path}: {e}") from None
    module = parse_source(text, str(path), make_registry_context())
    verify_module(module, str(path))
    return module


# --------------------------------------------------------------------------
# --verify-diagnostics
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """`// expected-<severity>[@designator] {{text}}` found on `directive_line`."""

    severity: str
    line: int | None  # the line the diagnostic must be on; None for @unknown
    text: str
    directive_line: int


_DIRECTIVE = re.compile(r"expected-(error|warning|note|remark)\b")
_EXPECT = re.compile(
    r"expected-(?P<sev>error|warning|note|remark)"
    r" *(?:@(?P<where>[+-]\d+|above|below|unknown))?\s*\{\{(?P<text>.*)\}\}\s*$"
)


def parse_expectations(text: str, filename: str, line_offset: int = 0) -> list[Expectation]:
    """The expectations written in `text`'s `//` comments; line numbers are `line_offset`-shifted.

    Raises `DiagnosticError` for a malformed directive (so a typo can't silently pass).
    """
    lines = text.split("\n")
    out: list[Expectation] = []
    below: list[tuple[str, str, int]] = []
    last_plain_line: int | None = None
    for i, line in enumerate(lines):
        lineno = i + 1 + line_offset
        comment_at = line.find("//")
        directive = _DIRECTIVE.search(line, comment_at) if comment_at >= 0 else None
        if directive is None:
            if line.strip():
                for sev, txt, at in below:
                    out.append(Expectation(sev, lineno, txt, at))
                below.clear()
                last_plain_line = lineno
            continue
        m = _EXPECT.match(line, directive.start())
        if m is None:
            raise DiagnosticError(
                Diagnostic(filename, lineno, directive.start() + 1, "malformed expected-* directive: want"
                           " `expected-error[@+N|@-N|@above|@below|@unknown] {{text}}`")
            )
        sev, where, txt = m.group("sev"), m.group("where"), m.group("text")
        if not txt.strip():
            raise DiagnosticError(Diagnostic(filename, lineno, directive.start() + 1, "empty expected-* text"))
        if where is None:
            target: int | None = lineno
        elif where == "unknown":
            target = None
        elif where == "above":
            if last_plain_line is None:
                raise DiagnosticError(Diagnostic(filename, lineno, directive.start() + 1, "no line above for @above"))
            target = last_plain_line
        elif where == "below":
            below.append((sev, txt, lineno))
            continue
        else:
            target = lineno + int(where)
            if not (1 + line_offset <= target <= len(lines) + line_offset):
                raise DiagnosticError(
                    Diagnostic(filename, lineno, directive.start() + 1, f"@{where} points outside the input")
                )
        out.append(Expectation(sev, target, txt, lineno))
    if below:
        raise DiagnosticError(Diagnostic(filename, below[0][2], None, "no line below for @below"))
    return out


def check_expectations(
    expected: Sequence[Expectation], produced: Iterable[Diagnostic], filename: str
) -> list[str]:
    """Match produced diagnostics against expectations; one message per mismatch (empty: all good).

    A diagnostic matches an unused expectation of its severity on its line whose
    text is a substring of the diagnostic's message.
    """
    used = [False] * len(expected)
    problems: list[str] = []
    for diag in produced:
        message = clean_message(diag.message)
        for i, exp in enumerate(expected):
            if not used[i] and exp.severity == diag.severity and exp.line == diag.line and exp.text in message:
                used[i] = True
                break
        else:
            problems.append(f"{diag.where}: error: unexpected {diag.severity}: {message}")
    for i, exp in enumerate(expected):
        if not used[i]:
            where = f"line {exp.line}" if exp.line is not None else "an unknown location"
            problems.append(
                f"{filename}:{exp.directive_line}: error: expected {exp.severity} \"{exp.text}\""
                f" (at {where}) was not produced"
            )
    return problems
