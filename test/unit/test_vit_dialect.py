"""The vit dialect: every op built in Python round-trips through text; verifier errors are located."""

from __future__ import annotations

import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType, f16
from xdsl.ir import Block, Region
from xdsl.utils.exceptions import VerifyException

from vaqf_compiler import registry
from vaqf_compiler.diagnostics import DiagnosticError, op_diagnostic, parse_source, verify_module
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import ParamAttr, tensor
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import make_context, parse_ir, print_ir


def P(name: str, *shape: int) -> ParamAttr:
    return ParamAttr(name, shape)


def build_every_op() -> tuple[ModuleOp, list[vit.VitOp]]:
    """A function using each vit op (and each optional part both ways), built with the ops' __init__."""
    block = Block(arg_types=[tensor(3, 32, 32)])
    img = block.args[0]
    ops: list[vit.VitOp] = []

    def add(op: vit.VitOp) -> vit.VitOp:
        ops.append(op)
        return op

    pe = add(vit.PatchEmbedOp(img, P("pe.w", 48, 3, 8, 8), P("pe.b", 48), [8, 8], [0, 0], tensor(16, 48)))
    add(vit.PatchEmbedOp(img, P("pe.w", 48, 3, 8, 8), None, [4, 4], [0, 0], tensor(49, 48)))
    patches = add(vit.PatchifyOp(img, [8, 8], tensor(16, 192)))
    add(vit.LinearOp(patches, P("pe.w", 48, 3, 8, 8), None, tensor(16, 48)))
    tokens = add(vit.ClsConcatOp(pe, [P("cls_token", 1, 1, 48)], tensor(17, 48)))
    add(vit.ClsConcatOp(pe, [P("cls_token", 1, 1, 48), P("dist_token", 1, 1, 48)], tensor(18, 48)))
    x = add(vit.PosEmbedAddOp(tokens, P("pos_embed", 1, 17, 48)))
    ln = add(vit.LayerNormOp(x, P("ln.w", 48), P("ln.b", 48), 1e-6, tensor(17, 48)))
    add(vit.LayerNormOp(x, None, None, 1e-5, tensor(17, 48)))
    qkv = add(vit.LinearOp(ln, P("qkv.w", 144, 48), P("qkv.b", 144), tensor(17, 144)))
    q = add(vit.SplitHeadsOp(qkv, 3, 0, 3, tensor(3, 17, 16)))
    k = add(vit.SplitHeadsOp(qkv, 3, 1, 3, tensor(3, 17, 16)))
    v = add(vit.SplitHeadsOp(qkv, 3, 2, 3, tensor(3, 17, 16)))
    s = add(vit.MatmulOp(q, k, True, tensor(3, 17, 17)))
    s = add(vit.ScaleOp(s, 0.25))
    a = add(vit.SoftmaxOp(s))
    o = add(vit.MatmulOp(a, v, False, tensor(3, 17, 16)))
    m = add(vit.MergeHeadsOp(o, tensor(17, 48)))
    g = add(vit.GeluOp(m))
    g = add(vit.GeluOp(g, tanh=True))
    r = add(vit.AddOp(g, x))
    c = add(vit.SelectTokenOp(r, 0, tensor(48)))
    add(vit.MeanPoolOp(r, tensor(48)))
    y = add(vit.LinearOp(c, P("head.w", 10, 48), P("head.b", 10), tensor(10)))
    block.add_ops([*ops, func.ReturnOp(y)])
    fn = func.FuncOp("forward", ([tensor(3, 32, 32)], [tensor(10)]), Region(block))
    return ModuleOp([fn]), ops


def test_every_op_is_built():
    _, ops = build_every_op()
    assert {type(op) for op in ops} == set(vit.VIT_OPS)


def test_built_module_verifies():
    module, _ = build_every_op()
    module.verify()
    verify_module(module, "<built>")


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
def test_round_trip_of_every_op(generic: bool):
    module, _ = build_every_op()
    first = print_ir(module, generic=generic)
    reparsed = parse_ir(first, "first.mlir")
    reparsed.verify()
    assert print_ir(reparsed, generic=generic) == first
    # Custom and generic forms describe the same IR.
    assert print_ir(parse_ir(print_ir(module, generic=not generic)), generic=generic) == first


@pytest.mark.parametrize("op_class", vit.VIT_OPS, ids=lambda c: c.name)
def test_each_op_round_trips_alone(op_class: type[vit.VitOp]):
    module, ops = build_every_op()
    op = next(o for o in ops if isinstance(o, op_class))
    text = print_ir(module)
    line = next(ln.strip() for ln in text.splitlines() if f" = {op_class.name} " in ln)
    reparsed = parse_ir(text)
    again = next(o for o in reparsed.walk() if isinstance(o, op_class))
    assert again.properties == op.properties
    assert [r.type for r in again.results] == [r.type for r in op.results]
    assert line in print_ir(reparsed)


def test_registry_context_parses_like_make_context():
    module, _ = build_every_op()
    text = print_ir(module)
    parsed = parse_source(text, "m.mlir", registry.make_registry_context())
    assert print_ir(parsed) == print_ir(parse_ir(text, ctx=make_context()))


def test_param_attr():
    p = P("blocks.0.attn.qkv.weight", 144, 48)
    assert p.key == "blocks.0.attn.qkv.weight"
    assert p.shape == (144, 48)
    assert p.numel == 144 * 48
    assert str(p) == '#vit.param<"blocks.0.attn.qkv.weight", [144, 48]>'
    with pytest.raises(VerifyException, match="must not be empty"):
        ParamAttr("", [1])
    with pytest.raises(VerifyException, match="must be > 0"):
        ParamAttr("w", [0, 3])


def test_op_helpers():
    _, ops = build_every_op()
    pe = next(o for o in ops if isinstance(o, vit.PatchEmbedOp))
    assert pe.kernel == (8, 8)
    assert [p.key for p in pe.params()] == ["pe.w", "pe.b"]
    linear = next(o for o in ops if isinstance(o, vit.LinearOp) and o.weight.key == "pe.w")
    assert (linear.in_features, linear.out_features) == (192, 48)
    cls = next(o for o in ops if isinstance(o, vit.ClsConcatOp) and len(o.tokens.data) == 2)
    assert [p.key for p in cls.params()] == ["cls_token", "dist_token"]


# --------------------------------------------------------------------------
# Verifier errors name the op and where it is
# --------------------------------------------------------------------------

BAD_LINEAR = """\
func.func @f(%x: tensor<17x48xf32>) -> tensor<17x11xf32> {
  %y = vit.linear %x weight #vit.param<"w", [10, 48]> : tensor<17x48xf32> -> tensor<17x11xf32>
  func.return %y : tensor<17x11xf32>
}
"""


def test_verifier_error_names_op_and_location():
    parsed = parse_source(BAD_LINEAR, "bad.mlir", registry.make_registry_context())
    with pytest.raises(DiagnosticError) as info:
        verify_module(parsed, "bad.mlir")
    d = info.value.diagnostic
    assert (d.file, d.line, d.column) == ("bad.mlir", 2, 3)
    assert str(d) == "bad.mlir:2:3: error: 'vit.linear' vit.linear result must be [17, 10], got [17, 11]"
    # A DiagnosticError is a VaqfError: the `vaqf` driver prints it like any other.
    assert isinstance(info.value, VaqfError)
    assert str(info.value) == "bad.mlir:2:3: 'vit.linear' vit.linear result must be [17, 10], got [17, 11]"


def test_verifier_error_with_split_offset():
    parsed = parse_source(BAD_LINEAR, "bad.mlir", registry.make_registry_context(), line_offset=40)
    with pytest.raises(DiagnosticError) as info:
        verify_module(parsed, "bad.mlir")
    assert info.value.diagnostic.where == "bad.mlir:42:3"


def test_verifier_error_far_down_a_split_file():
    parsed = parse_source(BAD_LINEAR, "bad.mlir", registry.make_registry_context(), line_offset=50_000)
    with pytest.raises(DiagnosticError) as info:
        verify_module(parsed, "bad.mlir")
    assert info.value.diagnostic.where == "bad.mlir:50002:3"


def test_verifier_error_on_op_built_in_memory_borrows_parent_location():
    parsed = parse_source(BAD_LINEAR, "bad.mlir", registry.make_registry_context())
    fn = next(o for o in parsed.walk() if isinstance(o, func.FuncOp))
    block = fn.body.block
    x = block.args[0]
    bad = vit.GeluOp.create(operands=[x], result_types=[tensor(3)])  # a pass's mistake
    assert block.first_op is not None
    block.insert_op_before(bad, block.first_op)
    with pytest.raises(DiagnosticError) as info:
        verify_module(parsed, "bad.mlir")
    d = info.value.diagnostic
    assert d.message == "'vit.gelu' vit.gelu result type must equal its input type"
    assert (d.line, d.column) == (1, 1)  # the func.func it sits in


def test_op_diagnostic_without_any_location():
    op = vit.GeluOp(Block(arg_types=[tensor(4)]).args[0])
    d = op_diagnostic(op, "boom", "x.mlir")
    assert str(d) == "x.mlir: error: 'vit.gelu' boom"


def test_non_f32_rejected_when_built_in_python():
    block = Block(arg_types=[TensorType(f16, [4])])
    op = vit.SoftmaxOp(block.args[0])
    with pytest.raises(VerifyException, match="element type f32"):
        op.verify()


def test_row_split_attr_round_trips_its_mask():
    import numpy as np

    from vaqf_compiler import mixed

    rng = np.random.default_rng(0)
    for rows in (1, 3, 4, 5, 8, 9, 576):
        mask = rng.random(rows) < 0.4
        attr = vit.RowSplitAttr.from_mask(mask)
        attr.verify()
        assert attr.rows.data == rows and attr.pot.data == int(mask.sum())
        assert np.array_equal(attr.pot_mask, mask)
        assert attr.mask.data == mixed.mask_to_hex(mask)
        text = f"#vit.rows<pot {attr.pot.data} of {rows}, \"{attr.mask.data}\">"
        module = parse_ir(
            f'func.func @f(%x: tensor<2x4xf32>) -> tensor<2x{rows}xf32> {{\n'
            f'  %y = vit.linear %x weight #vit.param<"w", [{rows}, 4]> quant #vit.quant<w = mixed 4, x = int 8>'
            f' rows {text} : tensor<2x4xf32> -> tensor<2x{rows}xf32>\n'
            f'  func.return %y : tensor<2x{rows}xf32>\n}}'
        )
        module.verify()
        assert text in print_ir(module)


def test_mixed_format_semantics():
    for bits, top in ((2, 1), (3, 4), (4, 64), (5, 16384)):
        fmt = vit.FormatAttr("mixed", bits)
        assert fmt.quantized and fmt.code_range == (-top, top)  # integer weights: ±2^E
    quant = vit.QuantAttr(vit.FormatAttr("mixed", 4), vit.FormatAttr("int", 8))
    assert quant.mixed and quant.quantized
    assert not vit.QuantAttr(vit.FormatAttr("binary", 1), vit.FormatAttr("int", 8)).mixed
