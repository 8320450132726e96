"""vaqf beside hls4ml (1.3.0, the `hls` extra; its PyTorch converter, offline, no TensorFlow/Keras).

    .venv/bin/python bench/bench_hls4ml.py [--samples 20] [--skip-layers]

1. The same MLP, 192 -> 768 -> 192 (a DeiT-tiny MLP block):
   - hls4ml converts the MLP alone (ReLU: hls4ml's PyTorch converter has no
     GELU, see 2), ap_fixed<16,6>, io_parallel, its default Latency strategy,
     reuse factor 1. One sample = one token (a 192-vector); 197 samples = the
     tokens of one 224x224 image.
   - vaqf compiles only whole ViTs (mark-quantization needs the token
     embedding), so it compiles a one-block DeiT (dim 192, 3 heads, MLP 768,
     224x224 -> 197 tokens), whose MLP is this one, with binary weights and the
     activation precision its search picks. One sample = one image.
   Times: conversion (vaqf: import .. emit; hls4ml: convert + write), the g++
   C-simulation build, and the C simulation per sample (median).
2. Which DeiT layers hls4ml's PyTorch converter takes: each layer alone,
   converted (and, if that works, built); the first line of what it says.

Both C simulations are built with g++ on this machine. Not part of any test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaqf_compiler.frontend.load import export_module  # noqa: E402
from vaqf_compiler.models.deit import DeiT, DeiTConfig, randomize_parameters  # noqa: E402

PRECISION = "ap_fixed<16,6>"
PART = "xczu9eg-ffvb1156-2-e"  # ZCU102


def hls4ml_model(model: nn.Module, shape: tuple[int, ...], out: Path, build: bool = True,
                 channels_last: str = "off") -> dict:
    """Convert (+ write, + build) with hls4ml; its own prints are kept out of the table."""
    import hls4ml

    times: dict = {}
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=shape, granularity="model",
                                                     backend="Vitis", default_precision=PRECISION,
                                                     default_reuse_factor=1,
                                                     channels_last_conversion=channels_last)
        hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(out),
                                                          backend="Vitis", io_type="io_parallel", part=PART)
        times["convert"] = time.perf_counter() - t
        t = time.perf_counter()
        hm.write()
        times["write"] = time.perf_counter() - t
        if build:
            t = time.perf_counter()
            hm._compile()  # hls4ml's compile() is write() + this (build_lib.sh: g++ -> .so)
            times["build"] = time.perf_counter() - t
    times["model"] = hm
    return times


def first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return f"{type(e).__name__}: {text.splitlines()[0][:150]}"


class MLP(nn.Module):
    def __init__(self, act: nn.Module):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(192, 768), act, nn.Linear(768, 192)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def bench_hls4ml_mlp(work: Path, samples: int) -> dict:
    torch.manual_seed(0)
    model = MLP(nn.ReLU()).eval()
    r = hls4ml_model(model, (192,), work / "hls4ml_mlp")
    hm = r.pop("model")
    x = np.random.default_rng(0).standard_normal((197, 192)).astype(np.float32)
    hm.predict(x[:1])  # load the library
    one = []
    for i in range(samples):
        t = time.perf_counter()
        hm.predict(np.ascontiguousarray(x[i % len(x)][None]))
        one.append(time.perf_counter() - t)
    t = time.perf_counter()
    y = hm.predict(x)
    r["sample"] = statistics.median(one)
    r["image"] = time.perf_counter() - t
    with torch.no_grad():
        r["error"] = float(np.abs(y - model(torch.from_numpy(x)).numpy()).max())
    return r


def bench_vaqf_block(work: Path, samples: int) -> dict:
    from vaqf_compiler.backends.hls.csim import build, run
    from vaqf_compiler.driver import Request, compile_model
    from vaqf_compiler.progress import Progress

    cfg = DeiTConfig(dim=192, heads=3, depth=1, mlp_ratio=4.0, num_classes=10)
    model = randomize_parameters(DeiT(cfg), 0).eval()
    pt2 = work / "deit_block.pt2"
    torch.export.save(export_module(model, (3, 224, 224)), str(pt2))
    prj = work / "vaqf_block"
    compiled = compile_model(Request(str(pt2), "zcu102", 1000.0, prj, force=True, tb_images=samples),
                             Progress(6, None))
    r = {"convert": sum(s.seconds for s in compiled.stages if s.name != "reference"),
         "reference": next(s.seconds for s in compiled.stages if s.name == "reference"),
         "bits": compiled.bits, "fps": compiled.estimate.fps}
    t = time.perf_counter()
    exe = build(prj, work / "vaqf_build")
    r["build"] = time.perf_counter() - t
    images = np.fromfile(prj / "tb" / "input.bin", dtype="<f4").reshape(samples, -1)
    golden = np.fromfile(prj / "tb" / "golden_codes.bin", dtype="<i8").reshape(samples, -1)
    per, ok = [], True
    for i, x in enumerate(images):
        path = work / f"image{i}.bin"
        x.tofile(path)
        t = time.perf_counter()
        _, codes, _, _, _ = run(prj, exe, path, compare=False)
        per.append(time.perf_counter() - t)
        ok &= bool(np.array_equal(codes[0], golden[i]))
    r["sample"] = statistics.median(per)
    r["bit_exact"] = ok
    mlp = [lay for lay in compiled.estimate.layers if lay.name.startswith("fc [197x192]x[192x768]")
           or lay.name.startswith("fc [197x768]x[768x192]")]
    r["mlp_ms"] = sum(lay.count * lay.cycles for lay in mlp) / (compiled.estimate.clock_mhz * 1e3)
    r["frame_ms"] = compiled.estimate.latency_ms
    return r


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(192, 3, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class MatMul(nn.Module):  # q @ k^T of one head
    def forward(self, x):
        return torch.matmul(x, x.transpose(-1, -2))


class Einsum(nn.Module):  # the same product through einsum, which hls4ml lists (batch dimension first)
    def forward(self, x):
        return torch.einsum("btc,bsc->bts", x, x)


LAYERS = [
    ("layer norm", lambda: nn.LayerNorm(192), (197, 192)),
    ("attention (nn.MultiheadAttention)", Attention, (197, 192)),
    ("attention score q@k^T (torch.matmul)", MatMul, (197, 64)),
    ("attention score q@k^T (torch.einsum)", Einsum, (197, 64)),
    ("softmax over tokens", lambda: nn.Softmax(dim=-1), (197, 197)),
    ("GELU", nn.GELU, (768,)),
    ("patch embedding (Conv2d 3->192, 16x16 stride 16)", lambda: nn.Conv2d(3, 192, 16, 16), (3, 224, 224)),
]
# Token-major tensors [tokens, channels] stay as they are; the image is NCHW, which hls4ml makes channels-last.
CHANNELS_LAST = {"patch embedding (Conv2d 3->192, 16x16 stride 16)": "full"}


def build_with_timeout(out: Path, timeout: float) -> str:
    """hls4ml's build (its build_lib.sh, what `_compile` runs) with a time limit; '' if it built."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(["./build_lib.sh"], cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        text, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # g++ runs in the script's process group
        proc.communicate()
        return f"g++ did not finish in {timeout:.0f} s"
    if proc.returncode:
        lines = [ln for ln in text.splitlines() if "error" in ln.lower()] or text.splitlines()[-1:]
        return f"build failed: {lines[0][:150] if lines else proc.returncode}"
    return ""


def bench_layers(work: Path, build: bool, timeout: float = 300.0) -> list[tuple[str, str, str]]:
    rows = []
    for i, (name, make, shape) in enumerate(LAYERS):
        torch.manual_seed(0)
        try:  # in a container: hls4ml traces the root module's own forward, a submodule is a layer
            r = hls4ml_model(nn.Sequential(make()).eval(), shape, work / f"layer{i}", build=False,
                             channels_last=CHANNELS_LAST.get(name, "off"))
        except Exception as e:  # what hls4ml says is the result
            rows.append((name, "no", first_line(e)))
            continue
        layers = [f"{lay.class_name}" for lay in r["model"].get_layers()]
        print(f"  {name}: converted, building ...", file=sys.stderr, flush=True)
        verdict = f"converted: {' -> '.join(layers)}"
        if build:
            t = time.perf_counter()
            problem = build_with_timeout(work / f"layer{i}", timeout)
            if problem:
                rows.append((name, "converts; no C simulation", f"{verdict}; {problem}"))
                continue
            verdict += f"; C simulation built in {time.perf_counter() - t:.1f} s"
        rows.append((name, "yes", verdict))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=5, help="vaqf images / hls4ml samples timed (default 5)")
    ap.add_argument("--skip-layers", action="store_true", help="skip part 2 (the DeiT layers)")
    ap.add_argument("--no-layer-build", dest="layer_build", action="store_false",
                    help="part 2: convert only, do not build the layers that convert")
    ap.add_argument("--layer-build-timeout", type=float, default=300.0, metavar="S",
                    help="part 2: give up on a layer's g++ build after S seconds (default 300)")
    args = ap.parse_args(argv)
    import hls4ml

    with tempfile.TemporaryDirectory(prefix="vaqf-hls4ml-") as tmp:
        work = Path(tmp)
        print("hls4ml MLP ...", file=sys.stderr, flush=True)
        h = bench_hls4ml_mlp(work, max(args.samples, 20))
        print("vaqf one-block DeiT ...", file=sys.stderr, flush=True)
        v = bench_vaqf_block(work, args.samples)
        rows = None if args.skip_layers else bench_layers(work, args.layer_build, args.layer_build_timeout)

    print(f"\n1. MLP 192->768->192 (hls4ml {hls4ml.__version__}, {PRECISION}, Latency, RF 1; vaqf W1A{v['bits']})\n")
    print("| | hls4ml (MLP alone, ReLU) | vaqf (1-block DeiT, its MLP inside) |")
    print("|---|---|---|")
    print(f"| conversion (to a written project) | {h['convert'] + h['write']:.2f} s "
          f"(convert {h['convert']:.2f} + write {h['write']:.2f}) | {v['convert']:.2f} s "
          f"(import .. emit; + {v['reference']:.2f} s integer reference for the test bench) |")
    print(f"| C-simulation build (g++) | {h['build']:.1f} s | {v['build']:.1f} s |")
    print(f"| C simulation per sample | {1e3 * h['sample']:.2f} ms (1 token) | {1e3 * v['sample']:.0f} ms "
          f"(1 image, 197 tokens, whole block; process start included) |")
    print(f"| C simulation, 197 tokens | {1e3 * h['image']:.1f} ms (batch of 197) | {1e3 * v['sample']:.0f} ms |")
    print(f"| exactness | max abs error {h['error']:.3f} vs float | "
          f"{'bit-identical' if v['bit_exact'] else 'DIFFERS'} to its integer reference |")
    print(f"| predicted on ZCU102 | (no cost model in hls4ml's converter) | MLP {v['mlp_ms']:.3f} ms of "
          f"{v['frame_ms']:.3f} ms per image ({v['fps']:.0f} FPS, vaqf cost model) |")
    if rows is not None:
        print(f"\n2. DeiT layers through hls4ml {hls4ml.__version__}'s PyTorch converter (each alone)\n")
        print("| layer | converts | what hls4ml says |")
        print("|---|---|---|")
        for name, ok, text in rows:
            print(f"| {name} | {ok} | {text.replace('|', '/')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
