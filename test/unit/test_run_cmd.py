"""`vaqf run`, in process through `vaqf_compiler.cli.main.main`."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region

from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import ParamAttr, tensor
from vaqf_compiler.ir import print_ir
from vaqf_compiler.params import attach_sidecar, save_params

C, IMG, PATCH, D, CLASSES = 2, 8, 4, 6, 5
TOKENS = (IMG // PATCH) ** 2


@pytest.fixture
def vaqf(monkeypatch):
    """`main` of the vaqf driver.

    `cli/main.py` also imports `import_cmd`, written concurrently; until it
    exists an empty stand-in lets `main` import (and is removed afterwards).
    """
    try:
        importlib.import_module("vaqf_compiler.cli.import_cmd")
    except ModuleNotFoundError as e:
        if e.name != "vaqf_compiler.cli.import_cmd":
            raise
        stub = types.ModuleType("vaqf_compiler.cli.import_cmd")
        stub.register = lambda subparsers: None
        monkeypatch.setitem(sys.modules, "vaqf_compiler.cli.import_cmd", stub)
        monkeypatch.delitem(sys.modules, "vaqf_compiler.cli.main", raising=False)
        yield importlib.import_module("vaqf_compiler.cli.main").main
        sys.modules.pop("vaqf_compiler.cli.main", None)
        return
    yield importlib.import_module("vaqf_compiler.cli.main").main


def random_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {
        "pe.w": (D, C, PATCH, PATCH),
        "pe.b": (D,),
        "ln.w": (D,),
        "ln.b": (D,),
        "head.w": (CLASSES, D),
        "head.b": (CLASSES,),
    }
    params = {k: (0.5 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    params["ln.w"] += 1.0
    return params


def build_module(shapes: dict[str, tuple[int, ...]]) -> ModuleOp:
    """patch_embed -> layer_norm -> select_token 1 -> linear head."""
    P = {k: ParamAttr(k, s) for k, s in shapes.items()}
    block = Block(arg_types=[tensor(C, IMG, IMG)])
    pe = vit.PatchEmbedOp(block.args[0], P["pe.w"], P["pe.b"], (PATCH, PATCH), (0, 0), tensor(TOKENS, D))
    ln = vit.LayerNormOp(pe, P["ln.w"], P["ln.b"], 1e-5, tensor(TOKENS, D))
    tok = vit.SelectTokenOp(ln, 1, tensor(D))
    head = vit.LinearOp(tok, P["head.w"], P["head.b"], tensor(CLASSES))
    block.add_ops([pe, ln, tok, head, func.ReturnOp(head)])
    module = ModuleOp([func.FuncOp("forward", ([tensor(C, IMG, IMG)], [tensor(CLASSES)]), Region(block))])
    module.verify()
    return module


def write_model(tmp_path: Path, params: dict[str, np.ndarray], declared: dict[str, np.ndarray] | None = None) -> Path:
    """model.mlir + model.npz in tmp_path; the IR declares the shapes of `declared` (default: params)."""
    module = build_module({k: v.shape for k, v in (declared or params).items()})
    attach_sidecar(module, "model.npz", save_params(tmp_path / "model.npz", params))
    ir = tmp_path / "model.mlir"
    ir.write_text(print_ir(module))
    return ir


def reference(params: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    t = {k: torch.from_numpy(v) for k, v in params.items()}
    x = F.conv2d(torch.from_numpy(images), t["pe.w"], t["pe.b"], stride=PATCH).flatten(2).transpose(1, 2)
    x = F.layer_norm(x, (D,), t["ln.w"], t["ln.b"], eps=1e-5)[:, 1]
    return F.linear(x, t["head.w"], t["head.b"]).numpy()


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, C, IMG, IMG)).astype(np.float32)


def test_one_image(vaqf, tmp_path, capsys):
    params = random_params()
    ir = write_model(tmp_path, params)
    x = images(1)
    np.save(tmp_path / "x.npy", x[0])
    out = tmp_path / "logits.out"  # any name: written as given, no .npy appended
    assert vaqf(["run", str(ir), "--input", str(tmp_path / "x.npy"), "-o", str(out)]) == 0
    logits = np.load(out)
    want = reference(params, x)[0]
    assert logits.shape == (CLASSES,) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, want, atol=1e-5)
    stdout = capsys.readouterr().out
    assert stdout == f"1 image, top-1 class: {int(want.argmax())}; logits [{CLASSES}] written to {out}\n"


def test_batch(vaqf, tmp_path, capsys):
    params = random_params(2)
    ir = write_model(tmp_path, params)
    x = images(4, seed=3)
    np.save(tmp_path / "x.npy", x)
    assert vaqf(["run", str(ir), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 0
    logits = np.load(tmp_path / "y.npy")
    want = reference(params, x)
    assert logits.shape == (4, CLASSES)
    np.testing.assert_allclose(logits, want, atol=1e-5)
    top1 = ", ".join(str(int(i)) for i in want.argmax(1))
    assert f"4 images, top-1 class: {top1};" in capsys.readouterr().out


def test_help_has_an_example(vaqf, capsys):
    with pytest.raises(SystemExit) as e:
        vaqf(["run", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--input" in text and "-o" in text
    assert "examples:\n  vaqf run " in text


def expect_error(vaqf, capsys, argv: list[str], *fragments: str) -> str:
    assert vaqf(argv) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("vaqf run: error: ") and err.endswith("\n")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, err
    return err


def test_wrong_input_shape(vaqf, tmp_path, capsys):
    ir = write_model(tmp_path, random_params())
    np.save(tmp_path / "x.npy", np.zeros((3, IMG, IMG), np.float32))
    expect_error(
        vaqf, capsys, ["run", str(ir), "--input", str(tmp_path / "x.npy")],
        "has shape [3, 8, 8]", f"expected one image [{C}, {IMG}, {IMG}] or a batch [N, {C}, {IMG}, {IMG}]",
    )


def test_missing_weights_file(vaqf, tmp_path, capsys):
    ir = write_model(tmp_path, random_params())
    (tmp_path / "model.npz").unlink()
    np.save(tmp_path / "x.npy", images(1)[0])
    expect_error(vaqf, capsys, ["run", str(ir), "--input", str(tmp_path / "x.npy")], "model.npz not found")


def test_misshaped_parameter(vaqf, tmp_path, capsys):
    params = random_params()
    declared = dict(params)
    params["head.w"] = params["head.w"].T.copy()  # the sidecar disagrees with the IR
    ir = write_model(tmp_path, params, declared)
    np.save(tmp_path / "x.npy", images(1)[0])
    expect_error(
        vaqf, capsys, ["run", str(ir), "--input", str(tmp_path / "x.npy")],
        "'head.w' has shape [6, 5]", "declares [5, 6]", "model.mlir:",
    )


def test_missing_ir(vaqf, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images(1)[0])
    expect_error(vaqf, capsys, ["run", str(tmp_path / "nope.mlir"), "--input", str(tmp_path / "x.npy")], "nope.mlir not found")


@pytest.mark.parametrize("content", [None, b"not an array", b""])
def test_missing_or_corrupt_input(vaqf, tmp_path, capsys, content):
    ir = write_model(tmp_path, random_params())
    x = tmp_path / "x.npy"
    if content is not None:
        x.write_bytes(content)
    expect_error(vaqf, capsys, ["run", str(ir), "--input", str(x)], str(x))


def test_parse_error_is_one_line(vaqf, tmp_path, capsys):
    ir = write_model(tmp_path, random_params())
    ir.write_text(ir.read_text().replace("vit.layer_norm", "vit.layer_nrom"))
    np.save(tmp_path / "x.npy", images(1)[0])
    err = expect_error(vaqf, capsys, ["run", str(ir), "--input", str(tmp_path / "x.npy")], "vit.layer_nrom")
    assert f"{ir}:4:" in err


def test_verify_error_names_the_op(vaqf, tmp_path, capsys):
    ir = write_model(tmp_path, random_params())
    ir.write_text(ir.read_text().replace("index 1", "index 9"))
    np.save(tmp_path / "x.npy", images(1)[0])
    expect_error(
        vaqf, capsys, ["run", str(ir), "--input", str(tmp_path / "x.npy")],
        f"{ir}:5:", "'vit.select_token'", "index 9 is out of range",
    )
