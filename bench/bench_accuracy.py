"""The accuracy table of `vaqf train`: test top-1 of every stage (FP, W1A32, W1Ak; the mixed scheme's too).

    .venv/bin/python bench/bench_accuracy.py                      # digits, vaqf scheme, the recipe's epochs
    .venv/bin/python bench/bench_accuracy.py --scheme both --abits 8,6 --pot-ratio 0.5
    .venv/bin/python bench/bench_accuracy.py --quick              # 3/2/1 epochs: a smoke run (minutes)
    .venv/bin/python bench/bench_accuracy.py --from results.json  # the table of an earlier `vaqf train --json`

Runs `vaqf train ... --json` (a subprocess: the command users run) and prints
one row per stage. --scheme mixed/both need a vaqf whose `train` has
--scheme (issue 8); without it the bench says so and stops. Not part of any
test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

VAQF = [sys.executable, "-m", "vaqf_compiler.cli.main"]


def train_supports_schemes() -> bool:
    help_text = subprocess.run([*VAQF, "train", "--help"], capture_output=True, text=True).stdout
    return "--scheme" in help_text


def table(doc: dict) -> str:
    stages = doc["stages"]
    fp = next((s["top1"] for s in stages if s["stage"] == "fp"), None)
    lines = [f"vaqf train on {doc['data']} ({doc['train_images']} train / {doc['test_images']} test images), "
             f"model {doc['model']}, {doc['wall_s']:.0f} s", "",
             "| stage | scheme | weights | activations | PoT ratio | epochs | test top-1 | vs FP |",
             "|---|---|---|---|---|---|---|---|"]
    for s in stages:
        scheme = s.get("scheme", "vaqf")
        w = "float" if scheme == "float" else ("binary" if s["wbits"] == 1 else f"{s['wbits']}-bit")
        a = "float" if s["abits"] is None else f"{s['abits']}-bit"
        ratio = "-" if s.get("pot_ratio") is None else f"{s['pot_ratio']:g}"
        delta = "-" if fp is None or s["stage"] == "fp" else f"{100 * (s['top1'] - fp):+.2f}"
        lines.append(f"| {s['stage']} | {scheme} | {w} | {a} | {ratio} | {s['epochs']} | "
                     f"{100 * s['top1']:.2f} % | {delta} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", default="vaqf", help="vaqf (default), mixed or both (needs `vaqf train --scheme`)")
    ap.add_argument("--abits", help="activation precisions, e.g. 8,6,4 (default: the recipe's)")
    ap.add_argument("--pot-ratio", help="mixed scheme PoT ratios, e.g. 0.25,0.5")
    ap.add_argument("--quick", action="store_true", help="--epochs-fp 3 --epochs-binary 2 --epochs-act 1")
    ap.add_argument("--from", dest="source", type=Path, metavar="JSON", help="print the table of this file")
    ap.add_argument("--out", type=Path, help="checkpoint directory (default: a temporary one)")
    args, rest = ap.parse_known_args(argv)  # anything else goes to `vaqf train` as is

    if args.source is not None:
        print(table(json.loads(args.source.read_text())))
        return 0
    if args.scheme != "vaqf" and not train_supports_schemes():
        print(f"--scheme {args.scheme}: this vaqf's `train` has no --scheme yet (issue 8)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vaqf-acc-") as tmp:
        out = args.out or Path(tmp) / "runs"
        result = Path(tmp) / "result.json"
        cmd = [*VAQF, "train", "--out", str(out), "--json", str(result)]
        if args.scheme != "vaqf":
            cmd += ["--scheme", args.scheme]
        if args.abits:
            cmd += ["--abits", args.abits]
        if args.pot_ratio:
            cmd += ["--pot-ratio", args.pot_ratio]
        if args.quick:
            cmd += ["--epochs-fp", "3", "--epochs-binary", "2", "--epochs-act", "1"]
        cmd += rest
        print("$ vaqf " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=sys.stderr)
        if proc.returncode != 0:
            return proc.returncode
        print(table(json.loads(result.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
