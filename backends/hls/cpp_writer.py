"""A tiny C++ text builder: lines, indented blocks, nothing else (STYLE: no template engine)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CppWriter:
    def __init__(self, indent: str = "  "):
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(f"{self._indent * self._depth}{text}" if text else "")

    def lines(self, text: str) -> None:
        for t in text.splitlines():
            self.line(t)

    def comment(self, text: str) -> None:
        for t in text.splitlines():
            self.line(f"// {t}".rstrip())

    @contextmanager
    def block(self, head: str, tail: str = "}") -> Iterator[None]:
        self.line(f"{head} {{")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.line(tail)

    @contextmanager
    def scope(self, comment: str) -> Iterator[None]:
        """A bare `{ ... }` block, with a comment after the opening brace."""
        self.line(f"{{  // {comment}")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.line("}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def cpp_double(x: float) -> str:
    """A C++ literal that parses to exactly this double (Python's shortest round-trip repr; C++11)."""
    x = float(x)
    if x != x or abs(x) == float("inf"):
        raise ValueError(f"no C++ literal for {x}")
    text = repr(x)
    return text if any(c in text for c in ".e") else text + ".0"


def cpp_string(s: str) -> str:
    """A C++ string literal (ASCII; anything else escaped)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'
