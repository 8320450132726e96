"""`vaqf`: the user driver. One subcommand per module in this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaqf_compiler import __version__, validate
from vaqf_compiler.cli import (
    compile_cmd,
    csim_cmd,
    demo_cmd,
    dse_cmd,
    emit_cmd,
    eval_cmd,
    import_cmd,
    quantize_cmd,
    run_cmd,
    train_cmd,
)
from vaqf_compiler.errors import VaqfError

# Each module contributes `register(subparsers)`, which adds its parser and sets `func`.
COMMANDS = (demo_cmd, compile_cmd, import_cmd, quantize_cmd, run_cmd, train_cmd, dse_cmd, emit_cmd, csim_cmd, eval_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaqf",
        description=(
            "Compile a Vision Transformer into an FPGA accelerator with binary weights and "
            "low-bit activations (the VAQF method)."
        ),
        epilog="Run `vaqf COMMAND --help` for the options and an example of each command.",
    )
    parser.add_argument("--version", action="version", version=f"vaqf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        validate.common(args)
        return int(args.func(args) or 0)
    except VaqfError as e:
        print(f"vaqf {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vaqf {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
