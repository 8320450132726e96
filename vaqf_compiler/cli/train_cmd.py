"""`vaqf train`: the three-stage quantization recipe (FP -> W1A32 -> W1Ak, or mixed WbA32 -> WbAk), single process or torchrun."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.quant.distributed import DistEnv, init_distributed, shutdown
from vaqf_compiler.quant.recipe import (
    DIGITS_MODEL,
    MODELS,
    RECIPE_SCHEMES,
    RecipeConfig,
    RecipeResult,
    parse_abits,
    parse_ratios,
    ratio_text,
    run_recipe,
)

DEFAULTS = RecipeConfig()

DESCRIPTION = """\
Train a DeiT with binary weights and low-bit activations, the three stages of
the VAQF paper: (1) FP: full precision from scratch; (2) W1A32: progressive
binary fine-tuning (the binarized share of each encoder weight grows from 0 to
1); (3) W1Ak: activation fine-tuning from W1A32, once per precision in
--abits. Each stage writes a checkpoint to --out (fp.pt, w1a32.pt, w1a8.pt,
...); at the end an accuracy table goes to stdout, progress to stderr.

--scheme mixed trains the second weight scheme instead (ours, after
Auto-ViT-Acc): --wbits-bit encoder weights, the share --pot-ratio of each
matrix's rows powers of two (shifts in LUTs), the others fixed point (DSPs).
Its stages: (2') WbA32 from FP (no progressive schedule: b-bit weights stay
close to the real ones), (3') WbAk per --abits, with the epochs and learning
rates of stages 2 and 3; checkpoints w4a32-mixed-r0.5.pt, w4a8-mixed-r0.5.pt,
... --scheme both trains the two schemes from one FP stage and prints their
accuracies side by side."""

EPILOG = f"""\
data:
  default: scikit-learn's digits (1,797 8x8 images, 10 classes, shipped with
  scikit-learn), upsampled to 32x32, seeded 80/20 split; with the default
  model ({DIGITS_MODEL}: image 32, patch 8, dim 64, depth 4, heads 4) the whole
  recipe takes a few minutes on 2 CPU cores.
  --data DIR: one sub-folder of images per class (JPEG, PNG, ...; needs
  Pillow: pip install 'vaqf[train]'), or ImageNet style DIR/train/<class>/ and
  DIR/val/<class>/. Images are decoded as RGB and resized to --image-size.

resume:
  --resume skips every stage whose checkpoint is in --out and continues an
  unfinished stage after its last epoch (partial.pt). Checkpoints of another
  model, data set or seed are refused.

distributed (torchrun):
  Under torchrun each process trains on its share of the data (--batch-size
  is per process); gradients are averaged with DistributedDataParallel (gloo
  on CPU, nccl on CUDA); rank 0 prints and writes the checkpoints. With
  several machines run the same command on each, with --nnodes, --node-rank
  and the address of node 0; --data must be at the same path on every
  machine, --out is written (and read by --resume) on node 0 only.

examples:
  vaqf train --out out/train                       # digits, FP + W1A32 + W1A8/6/4
  vaqf train --abits 4,2 --epochs-act 5 --json results.json
  vaqf train --scheme mixed --pot-ratio 0.5 --wbits 4 --out out/mixed
  vaqf train --scheme both --pot-ratio 0.25,0.5,0.75 --abits 8,6 --json both.json
  vaqf train --resume --out out/train              # continue an interrupted run
  torchrun --nproc_per_node 4 -m vaqf_compiler.cli.main train --device cuda --out out/train
  torchrun --nnodes 2 --node-rank 0 --nproc_per_node 8 --master-addr 10.0.0.1 --master-port 29500 \\
      -m vaqf_compiler.cli.main train --device cuda --model deit-small --data /data/imagenet --out out/imnet
      (and --node-rank 1 on the second machine)
  vaqf train --data /data/imagenet --model deit-tiny --image-size 224 --batch-size 128 \\
      --epochs-fp 300 --epochs-binary 100 --epochs-act 50 --lr 5e-4 --device cuda --workers 8
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a DeiT with binary weights and low-bit activations (FP -> W1A32 -> W1Ak)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, metavar="DIR", help="image folder (one sub-folder per class); default: digits")
    p.add_argument(
        "--model", choices=list(MODELS), default=DEFAULTS.model, help=f"the DeiT to train (default {DEFAULTS.model})"
    )
    p.add_argument("--image-size", type=int, metavar="N", help="square input size (default: 32 for digits with "
                   f"{DIGITS_MODEL}, else the model's 224)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, metavar="N",
                   help=f"per process (default {DEFAULTS.batch_size})")
    p.add_argument("--epochs-fp", type=int, default=DEFAULTS.epochs_fp, metavar="N",
                   help=f"stage 1, full precision (default {DEFAULTS.epochs_fp})")
    p.add_argument("--epochs-binary", type=int, default=DEFAULTS.epochs_binary, metavar="N",
                   help=f"stage 2, progressive binary (or mixed) weights (default {DEFAULTS.epochs_binary})")
    p.add_argument("--epochs-act", type=int, default=DEFAULTS.epochs_act, metavar="N",
                   help=f"stage 3, per activation precision (default {DEFAULTS.epochs_act})")
    p.add_argument("--abits", default=",".join(map(str, DEFAULTS.abits)), metavar="K,K,...",
                   help="activation precisions of stage 3, each in 1..16 (default 8,6,4; '' for none)")
    p.add_argument("--scheme", choices=RECIPE_SCHEMES, default=DEFAULTS.scheme,
                   help="weight quantization: vaqf (binary, default), mixed (fixed-point + power-of-two rows), "
                        "or both from one FP stage")
    p.add_argument("--pot-ratio", metavar="R,R,...",
                   help="mixed scheme: share of each weight matrix's rows in power of two, each in [0, 1]; "
                        f"one branch per ratio (default {','.join(map(ratio_text, DEFAULTS.pot_ratios))})")
    p.add_argument("--wbits", type=int, metavar="B",
                   help=f"mixed scheme: weight bits, 2..8 (default {DEFAULTS.wbits}; the compiler's integer "
                        "path takes PoT rows up to 5 bits)")
    p.add_argument("--lr", type=float, default=DEFAULTS.lr,
                   help=f"peak learning rate of stage 1; stages 2 and 3 use a fraction (default {DEFAULTS.lr:g})")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default cpu")
    p.add_argument("--out", type=Path, default=DEFAULTS.out, metavar="DIR",
                   help=f"checkpoint folder (default {DEFAULTS.out})")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"seed of everything (default {DEFAULTS.seed})")
    p.add_argument("--workers", type=int, default=DEFAULTS.workers, metavar="N",
                   help="data loader processes for --data (default 0: load in the training process)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=run)


def scheme_cell(scheme: str, pot_ratio: float | None) -> str:
    return f"mixed r={ratio_text(pot_ratio)}" if scheme == "mixed" and pot_ratio is not None else scheme


def format_table(result: RecipeResult) -> str:
    rows = [("stage", "scheme", "top-1", "wall", "epochs", "")]
    for s in result.stages:
        rows.append((s.label, scheme_cell(s.scheme, s.pot_ratio), f"{100 * s.top1:.2f} %", f"{s.wall_s:.1f} s",
                     str(s.epochs), "(from checkpoint)" if s.resumed else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:5], widths[2:5])] + [r[5]]
        lines.append("  ".join(cells).rstrip())
    lines.append(f"total wall time {result.wall_s:.1f} s; checkpoints in {Path(result.stages[0].checkpoint).parent}"
                 if result.stages else f"total wall time {result.wall_s:.1f} s")
    comparison = format_comparison(result)
    return "\n".join(lines) + (f"\n\n{comparison}" if comparison else "")


def format_comparison(result: RecipeResult) -> str:
    """Test top-1 by activation precision (rows) and weight scheme (columns), when there are several schemes."""
    columns: dict[str, str] = {}  # key -> header
    cells: dict[tuple[str, str], str] = {}
    acts: list[str] = []
    fp = None
    for s in result.stages:
        if s.scheme == "float":
            fp = s.top1
            continue
        key = scheme_cell(s.scheme, s.pot_ratio)
        columns.setdefault(key, f"{key} W{s.wbits}")
        act = "A32" if s.abits is None else f"A{s.abits}"
        if act not in acts:
            acts.append(act)
        cells[act, key] = f"{100 * s.top1:.2f} %"
    if len(columns) < 2:
        return ""
    rows = [["test top-1", *columns.values()]]
    rows += [[act, *(cells.get((act, key), "-") for key in columns)] for act in acts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]) for r in rows]
    if fp is not None:
        lines.append(f"(FP: {100 * fp:.2f} %)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.scheme == "vaqf" and (args.pot_ratio is not None or args.wbits is not None):
        raise VaqfError("--pot-ratio and --wbits are for --scheme mixed or both (the vaqf scheme has binary weights)")
    cfg = RecipeConfig(
        scheme=args.scheme,
        wbits=DEFAULTS.wbits if args.wbits is None else args.wbits,
        pot_ratios=DEFAULTS.pot_ratios if args.pot_ratio is None else parse_ratios(args.pot_ratio),
        model=args.model,
        data=args.data,
        image_size=args.image_size,
        batch_size=args.batch_size,
        epochs_fp=args.epochs_fp,
        epochs_binary=args.epochs_binary,
        epochs_act=args.epochs_act,
        abits=parse_abits(args.abits),
        lr=args.lr,
        seed=args.seed,
        workers=args.workers,
        out=args.out,
        resume=args.resume,
    )
    if args.image_size is not None and args.image_size <= 0:
        raise VaqfError(f"--image-size must be positive, got {args.image_size}")
    env: DistEnv = init_distributed(args.device)
    try:
        result = run_recipe(cfg, env)
    finally:
        shutdown(env)
    if env.is_main:
        print(format_table(result))
        sys.stdout.flush()
        if args.json is not None:
            doc = asdict(result)
            try:
                write_text_atomically(args.json, json.dumps(doc, indent=2) + "\n")
            except OSError as e:
                raise VaqfError(f"cannot write {args.json}: {' '.join(str(e).split())}") from None
    return 0
