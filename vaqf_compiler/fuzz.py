"""A mutation fuzzer for `vaqf-opt`: our own IR, mutated, must never crash the tool.

The corpus is every `.mlir` under `test/filecheck` (split at `// -----`) plus the
modules the pipeline produces from `test/filecheck/Inputs/tiny_vit.mlir`
(folded, quantized, lowered, tiled). Input `i` of a run with seed `s` is a
pure function of `(s, i)`: one to four mutations (bytes, tokens, lines,
attribute/type/number swaps, splices between files) of one corpus entry, run
through `vaqf-opt`'s CLI entry in-process (`opt.main`: read, parse, verify,
one of several pass pipelines, print) with a pipeline also chosen from `(s, i)`.

The accepted outcomes:

* exit 0 and output that parses and verifies again, or
* exit 1 and stderr that is one line per failing chunk, each
  `FILE:LINE[:COL]: error: ...` naming the input, and no "internal error".

Anything else — a traceback, another exit code, an unlocated or multi-line
message, an "internal error", output that does not re-parse, or an input
running longer than the time limit (a hang) — is a failure. Inputs run in
worker processes; the parent kills a worker that exceeds the per-input limit
(or dies) and carries on with the next input.

    python -m vaqf_compiler.fuzz --count 20000 --seed 1 --jobs 2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing as mp
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILECHECK = REPO / "test" / "filecheck"
TINY_VIT = FILECHECK / "Inputs" / "tiny_vit.mlir"

# Pipelines the inputs go through (`-p`); "" runs none (parse, verify, print).
PIPELINES: tuple[str, ...] = (
    "",
    "",
    "cse",
    "canonicalize,cse,dce",
    "fold-patch-embed",
    "mark-quantization{abits=4}",
    "mark-quantization{wbits=16 abits=16}",
    "partition-host-accel",
    "lower-to-accel",
    "vaqf-pipeline{abits=8}",
    "vaqf-pipeline{wbits=16 abits=16 softmax-on-accel=true}",
    "vaqf-pipeline{abits=8},assign-tiling{board=zcu102 target-fps=24}",
    "assign-tiling{board=zcu102 target-fps=24}",
)

# Generated corpus entries: the tiny ViT after these pipelines.
GENERATED: tuple[str, ...] = (
    "fold-patch-embed",
    "fold-patch-embed,mark-quantization{abits=4}",
    "vaqf-pipeline{abits=8}",
    "vaqf-pipeline{abits=4}",
    "vaqf-pipeline{wbits=16 abits=16 softmax-on-accel=true}",
    "vaqf-pipeline{abits=8},assign-tiling{board=zcu102 target-fps=24}",
    "vaqf-pipeline{abits=4},assign-tiling{board=kv260 target-fps=1000 pack-dsp=true}",
)

INTERESTING_NUMBERS = (
    "0", "-1", "1", "2", "3", "7", "8", "16", "17", "31", "32", "33", "63", "64", "65", "255", "256",
    "65535", "65536", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999",
    "0.0", "-0.0", "1.0e+308", "1e309", "-1e309", "1e-320", "nan", "inf", "-inf", "0x10", "0x7FC00000",
    "1.5", "-2.5", "1e6",
)

# Syntactic classes whose members are swapped for one another (harvested from the corpus).
CLASSES: dict[str, re.Pattern[str]] = {
    "tensor": re.compile(r"tensor<[^<>]*>"),
    "vit_attr": re.compile(r"#vit\.\w+<[^<>]*>"),
    "accel_attr": re.compile(r"#accel\.\w+<[^<>]*>"),
    "array": re.compile(r"array<[^<>]*>"),
    "scalar_type": re.compile(r"\b(?:f16|f32|f64|bf16|i1|i8|i16|i32|i64|index|ui8|si8)\b"),
    "op_name": re.compile(r"\b(?:vit|accel|func|arith|builtin)\.[a-z_]+\b"),
    "ssa": re.compile(r"%[\w$.-]+"),
    "string": re.compile(r'"(?:[^"\\\n]|\\.)*"'),
    "keyword": re.compile(
        r"\b(?:weight|bias|heads|part|of|stride|padding|tokens|pos|eps|index|by|transpose_b|tanh|"
        r"quant|out|on|host|accel|fc|attention|stream|quantized|unquantized|format|tiling|patch|"
        r"binary|int|uint|fixed|float|scale|w|x|tm|tn|nh|g|ports|dsp_lanes)\b"
    ),
    "number": re.compile(r"(?<![\w.%@#])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b"),
}

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[%@^#!]?[A-Za-z_][\w.$-]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|->|\s+|.', re.S)
_SPLIT = re.compile(r"^// -----\s*$", re.M)

_TRACEBACK = "Traceback (most recent call last)"
_DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?: error: (?P<msg>.+)$")


# --------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------


def _run_pipeline(text: str, pipeline: str) -> str:
    from vaqf_compiler.diagnostics import parse_source, verify_module
    from vaqf_compiler.cli.opt import build_pipeline
    from vaqf_compiler.ir import print_ir
    from vaqf_compiler.registry import make_registry_context

    ctx = make_registry_context()
    module = parse_source(text, "corpus.mlir", ctx)
    verify_module(module, "corpus.mlir")
    for p in build_pipeline([pipeline]):
        p.apply(ctx, module)
    return print_ir(module)


def load_corpus(root: Path = FILECHECK) -> list[tuple[str, str]]:
    """(name, text) for every chunk of every `.mlir` under `root` and every generated module."""
    corpus: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.mlir")):
        if "Output" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for k, chunk in enumerate(_SPLIT.split(text)):
            if chunk.strip():
                corpus.append((f"{path.relative_to(root)}#{k}", chunk))
    tiny = TINY_VIT.read_text(encoding="utf-8")
    for pipeline in GENERATED:
        corpus.append((f"tiny_vit|{pipeline}", _run_pipeline(tiny, pipeline)))
    return corpus


def harvest(corpus: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Every distinct member of each swap class in the corpus, sorted (deterministic)."""
    pools: dict[str, set[str]] = {k: set() for k in CLASSES}
    for _, text in corpus:
        for k, pat in CLASSES.items():
            pools[k].update(m.group() for m in pat.finditer(text))
    out = {k: sorted(v) for k, v in pools.items()}
    out["number"] = sorted(set(out["number"]) | set(INTERESTING_NUMBERS))
    return out


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------


class Mutator:
    """The mutation operators; each takes and returns text."""

    def __init__(self, corpus: Sequence[tuple[str, str]]):
        self.corpus = list(corpus)
        self.pools = harvest(self.corpus)
        self.tokens = sorted({t for _, text in self.corpus for t in _TOKEN.findall(text) if not t.isspace()})
        self.ops = [
            self.byte_flip, self.byte_insert, self.byte_delete,
            self.token_delete, self.token_duplicate, self.token_replace, self.token_swap,
            self.line_delete, self.line_duplicate, self.line_swap,
            self.class_swap, self.class_swap, self.class_swap, self.number_swap, self.number_swap,
            self.splice_lines, self.splice_halves,
        ]  # fmt: skip

    # bytes -----------------------------------------------------------------
    def byte_flip(self, rng: random.Random, s: str) -> str:
        if not s:
            return s
        i = rng.randrange(len(s))
        return s[:i] + chr(ord(s[i]) ^ (1 << rng.randrange(7))) + s[i + 1 :]

    def byte_insert(self, rng: random.Random, s: str) -> str:
        i = rng.randrange(len(s) + 1)
        c = rng.choice('%@^!#{}()<>[]:=,.x0123456789 "\n\\-\x00\t\u00e9\U0001f600')
        return s[:i] + c * rng.choice((1, 1, 1, 2, 50)) + s[i:]

    def byte_delete(self, rng: random.Random, s: str) -> str:
        if not s:
            return s
        i = rng.randrange(len(s))
        return s[:i] + s[i + rng.randint(1, 8) :]

    # tokens ----------------------------------------------------------------
    def _tokens(self, s: str) -> list[str]:
        return _TOKEN.findall(s)

    def _nonspace(self, toks: list[str]) -> list[int]:
        return [i for i, t in enumerate(toks) if not t.isspace()]

    def token_delete(self, rng: random.Random, s: str) -> str:
        toks = self._tokens(s)
        if idx := self._nonspace(toks):
            del toks[rng.choice(idx)]
        return "".join(toks)

    def token_duplicate(self, rng: random.Random, s: str) -> str:
        toks = self._tokens(s)
        if idx := self._nonspace(toks):
            i = rng.choice(idx)
            toks.insert(i, toks[i] + " ")
        return "".join(toks)

    def token_replace(self, rng: random.Random, s: str) -> str:
        toks = self._tokens(s)
        if idx := self._nonspace(toks):
            toks[rng.choice(idx)] = rng.choice(self.tokens)
        return "".join(toks)

    def token_swap(self, rng: random.Random, s: str) -> str:
        toks = self._tokens(s)
        idx = self._nonspace(toks)
        if len(idx) >= 2:
            i, j = rng.sample(idx, 2)
            toks[i], toks[j] = toks[j], toks[i]
        return "".join(toks)

    # lines -----------------------------------------------------------------
    def line_delete(self, rng: random.Random, s: str) -> str:
        lines = s.split("\n")
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines)

    def line_duplicate(self, rng: random.Random, s: str) -> str:
        lines = s.split("\n")
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
        return "\n".join(lines)

    def line_swap(self, rng: random.Random, s: str) -> str:
        lines = s.split("\n")
        if len(lines) >= 2:
            i, j = rng.sample(range(len(lines)), 2)
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)

    # attributes, types, numbers --------------------------------------------
    def class_swap(self, rng: random.Random, s: str) -> str:
        kinds = [k for k in CLASSES if k != "number"]
        for _ in range(4):
            kind = rng.choice(kinds)
            hits = list(CLASSES[kind].finditer(s))
            if hits and self.pools[kind]:
                m = rng.choice(hits)
                return s[: m.start()] + rng.choice(self.pools[kind]) + s[m.end() :]
        return s

    def number_swap(self, rng: random.Random, s: str) -> str:
        hits = list(CLASSES["number"].finditer(s))
        if not hits:
            return s
        m = rng.choice(hits)
        new = rng.choice(INTERESTING_NUMBERS) if rng.random() < 0.7 else str(rng.randint(-5, 5) + int(float(m.group()) if "." not in m.group() and "e" not in m.group() else 0))
        return s[: m.start()] + new + s[m.end() :]

    # splices ---------------------------------------------------------------
    def splice_lines(self, rng: random.Random, s: str) -> str:
        """Insert a run of lines from another corpus entry."""
        other = rng.choice(self.corpus)[1].split("\n")
        i = rng.randrange(len(other))
        chunk = other[i : i + rng.randint(1, 5)]
        lines = s.split("\n")
        at = rng.randrange(len(lines) + 1)
        return "\n".join(lines[:at] + chunk + lines[at:])

    def splice_halves(self, rng: random.Random, s: str) -> str:
        """This entry's head, another entry's tail, cut at line boundaries."""
        a, b = s.split("\n"), rng.choice(self.corpus)[1].split("\n")
        return "\n".join(a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1) :])

    def mutate(self, rng: random.Random, s: str) -> tuple[str, list[str]]:
        names = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            op = rng.choice(self.ops)
            names.append(op.__name__)
            s = op(rng, s)
        return s, names


@dataclass(frozen=True)
class Case:
    index: int
    source: str  # corpus entry's name
    mutations: tuple[str, ...]
    argv_extra: tuple[str, ...]
    text: str


def make_case(mutator: Mutator, seed: int, index: int) -> Case:
    """Input `index` of the run with `seed` (a pure function of both)."""
    rng = random.Random(f"vaqf-fuzz:{seed}:{index}")
    name, text = rng.choice(mutator.corpus)
    text, names = mutator.mutate(rng, text)
    extra: list[str] = []
    if pipeline := rng.choice(PIPELINES):
        extra += ["-p", pipeline]
    if rng.random() < 0.1:
        extra.append("--print-op-generic")
    if rng.random() < 0.1:
        extra.append("--split-input-file")
    return Case(index, name, tuple(names), tuple(extra), text)


# --------------------------------------------------------------------------
# Running one input
# --------------------------------------------------------------------------


def check_outcome(rc: int, out: str, err: str, path: str, split: bool) -> str | None:
    """None when (rc, out, err) is an accepted outcome for input `path`, else what is wrong."""
    if _TRACEBACK in err or _TRACEBACK in out:
        return "traceback"
    if rc == 0:
        if err:
            return f"exit 0 with stderr: {err[:200]!r}"
        from vaqf_compiler.diagnostics import DiagnosticError, parse_source, verify_module
        from vaqf_compiler.registry import make_registry_context

        for chunk in out.split("// -----\n") if split else [out]:
            try:
                verify_module(parse_source(chunk, "<output>", make_registry_context()), "<output>")
            except DiagnosticError as e:
                return f"output does not re-parse: {e.diagnostic}"
        return None
    if rc != 1:
        return f"exit status {rc}"
    lines = err.splitlines()
    if not lines or not err.endswith("\n"):
        return "exit 1 without a diagnostic"
    if not split and len(lines) != 1:
        return f"{len(lines)} lines on stderr"
    for line in lines:
        m = _DIAG.match(line)
        if m is None or m.group("file") != path:
            return f"diagnostic without a location: {line[:200]!r}"
        if "internal error" in line:
            return f"internal error: {line[:300]!r}"
    return None


def run_case(case: Case, workdir: Path) -> str:
    """Run one input through `vaqf-opt`'s entry point in this process.

    "ok:output" or "ok:diagnostic" when the outcome is accepted, else what is wrong.
    """
    from vaqf_compiler.cli import opt

    path = workdir / f"in{case.index}.mlir"
    path.write_text(case.text, encoding="utf-8", errors="surrogateescape")
    out, err = io.StringIO(), io.StringIO()
    env_tb = os.environ.pop("VAQF_TRACEBACK", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = opt.main([str(path), *case.argv_extra])
            except BaseException as e:  # noqa: BLE001 - anything escaping main is a failure
                import traceback

                err.write(f"{_TRACEBACK} (escaped main):\n" + "".join(traceback.format_exception(e)))
                rc = -1
    finally:
        if env_tb is not None:
            os.environ["VAQF_TRACEBACK"] = env_tb
        path.unlink(missing_ok=True)
    problem = check_outcome(rc, out.getvalue(), err.getvalue(), str(path), "--split-input-file" in case.argv_extra)
    if problem is not None:
        return f"{problem} | stderr: {err.getvalue()[-600:]!r}"
    return "ok:output" if rc == 0 else "ok:diagnostic"


def run_case_as_program(case: Case, workdir: Path, timeout_s: float = 60.0) -> str:
    """Like `run_case`, through the installed `vaqf-opt` executable (exit status as the shell sees it)."""
    import subprocess

    exe = Path(sys.executable).with_name("vaqf-opt")
    path = workdir / f"in{case.index}.mlir"
    path.write_text(case.text, encoding="utf-8", errors="surrogateescape")
    env = {k: v for k, v in os.environ.items() if k != "VAQF_TRACEBACK"}
    try:
        proc = subprocess.run([str(exe), str(path), *case.argv_extra], capture_output=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return f"hang: no result within {timeout_s:g} s"
    finally:
        path.unlink(missing_ok=True)
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    problem = check_outcome(proc.returncode, out, err, str(path), "--split-input-file" in case.argv_extra)
    if problem is not None:
        return f"{problem} | stderr: {err[-600:]!r}"
    return "ok:output" if proc.returncode == 0 else "ok:diagnostic"


# --------------------------------------------------------------------------
# Driver: worker processes with a per-input time limit
# --------------------------------------------------------------------------


@dataclass
class Failure:
    index: int
    kind: str  # first words of the problem: its class
    detail: str
    case: Case

    def describe(self) -> str:
        return (
            f"input {self.index} ({self.case.source}; {', '.join(self.case.mutations)};"
            f" argv {' '.join(self.case.argv_extra) or '-'}): {self.detail[:700]}"
        )


@dataclass
class Report:
    seed: int
    tried: int = 0
    valid_output: int = 0  # exit 0, output re-parses
    diagnosed: int = 0  # exit 1, one located line
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def classes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.failures:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    @property
    def accepted(self) -> int:
        return self.valid_output + self.diagnosed

    def summary(self) -> str:
        text = (
            f"vaqf fuzz: seed {self.seed}: {self.tried} inputs tried, {self.accepted} accepted"
            f" ({self.valid_output} valid output, {self.diagnosed} one-line located diagnostic),"
            f" {len(self.failures)} failures in {self.seconds:.1f} s"
        )
        for kind, n in sorted(self.classes.items()):
            text += f"\n  {n:6d}  {kind}"
        return text


def _failure_class(problem: str) -> str:
    head = problem.split(" | ")[0]
    head = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "_", head)
    return head[:120]


def _worker(conn, seed: int, indices: list[int], corpus: list[tuple[str, str]]) -> None:  # pragma: no cover - child
    mutator = Mutator(corpus)
    with tempfile.TemporaryDirectory(prefix="vaqf-fuzz-") as tmp:
        for i in indices:
            conn.send(("start", i))
            conn.send(("done", i, run_case(make_case(mutator, seed, i), Path(tmp))))
    conn.send(("finished", -1))


def fuzz(
    count: int,
    seed: int = 0,
    *,
    jobs: int = 1,
    timeout_s: float = 10.0,
    start: int = 0,
    corpus: list[tuple[str, str]] | None = None,
    progress: bool = False,
) -> Report:
    """Run inputs `start .. start+count-1` of `seed`; a Report of what happened."""
    corpus = corpus if corpus is not None else load_corpus()
    mutator = Mutator(corpus)
    report = Report(seed)
    began = time.monotonic()
    pending = list(range(start, start + count))
    ctx = mp.get_context("fork")
    shares = [pending[k::jobs] for k in range(max(1, jobs))]
    workers: list[dict] = []

    def launch(indices: list[int]) -> None:
        if not indices:
            return
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(child, seed, indices, corpus), daemon=True)
        proc.start()
        child.close()
        workers.append({"proc": proc, "conn": parent, "todo": list(indices), "current": None, "since": time.monotonic()})

    def fail(i: int, problem: str) -> None:
        report.failures.append(Failure(i, _failure_class(problem), problem, make_case(mutator, seed, i)))

    for share in shares:
        launch(share)
    while workers:
        for w in list(workers):
            conn = w["conn"]
            try:
                ready = conn.poll(0.05)
            except (EOFError, OSError):
                ready = True
            if ready:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):  # the worker died (a hard crash)
                    w["proc"].join(1)
                    i = w["current"]
                    workers.remove(w)
                    if i is not None:
                        report.tried += 1
                        fail(i, f"worker died with exit code {w['proc'].exitcode}")
                        rest = w["todo"][w["todo"].index(i) + 1 :]
                        launch(rest)
                    continue
                if msg[0] == "start":
                    w["current"], w["since"] = msg[1], time.monotonic()
                elif msg[0] == "done":
                    report.tried += 1
                    if msg[2] == "ok:output":
                        report.valid_output += 1
                    elif msg[2] == "ok:diagnostic":
                        report.diagnosed += 1
                    else:
                        fail(msg[1], msg[2])
                    w["current"] = None
                    if progress and report.tried % 1000 == 0:
                        print(f"  {report.tried} inputs, {len(report.failures)} failures", file=sys.stderr, flush=True)
                else:
                    w["proc"].join(5)
                    workers.remove(w)
            elif w["current"] is not None and time.monotonic() - w["since"] > timeout_s:
                i = w["current"]
                w["proc"].kill()
                w["proc"].join(5)
                workers.remove(w)
                report.tried += 1
                fail(i, f"hang: no result within {timeout_s:g} s")
                launch(w["todo"][w["todo"].index(i) + 1 :])
    report.seconds = time.monotonic() - began
    report.failures.sort(key=lambda f: f.index)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vaqf_compiler.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="number of inputs (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="seed; input i of seed s is always the same")
    ap.add_argument("--start", type=int, default=0, help="first input index (to reproduce one: --start I --count 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take (a hang beyond)")
    ap.add_argument("--show", type=int, default=20, help="failures to print in full")
    ap.add_argument("--save", type=Path, help="write each failing input to this folder")
    args = ap.parse_args(argv)
    report = fuzz(args.count, args.seed, jobs=args.jobs, timeout_s=args.timeout, start=args.start, progress=True)
    print(report.summary())
    for f in report.failures[: args.show]:
        print("  " + f.describe())
    if args.save and report.failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for f in report.failures:
            (args.save / f"seed{args.seed}-{f.index}.mlir").write_text(f.case.text, encoding="utf-8", errors="surrogateescape")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
