"""The design-space search (vaqf_compiler/dse) and `vaqf dse`: exhaustive tiling search, monotone
frame rate, the paper's binary search over precision, DeiT-base's choices, bad input."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from xdsl.context import Context

from vaqf_compiler.cli.main import main as vaqf
from vaqf_compiler.cost.boards import load_board
from vaqf_compiler.cost.calibration import DEFAULT_CALIBRATION
from vaqf_compiler.cost.model import Design, estimate, packing
from vaqf_compiler.cost.workload import BINARY, CODE, EngineLayer, StreamLayer, Workload, extract_workload
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.dse.search import (
    MAX_BITS,
    Options,
    Searcher,
    check_target,
    choose_all,
    choose_precision,
    exhaustive_precision,
)
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass

TINY = Path(__file__).parents[1] / "filecheck" / "Inputs" / "tiny_vit.mlir"
BOARDS = ["zcu102", "zcu104", "kv260", "u250"]


@pytest.fixture(scope="module")
def deit_base() -> Workload:
    from vaqf_compiler.cli.dse_cmd import builtin_workload

    return builtin_workload("deit-base")


def small_model() -> Workload:
    """A made-up ViT small enough to enumerate every tiling by hand, big enough for budgets to bite."""
    engine = (
        (EngineLayer("fc", 20, 48, 32, 1, 16, 16, 16), 1),
        (EngineLayer("fc", 21, 32, 96, 1, CODE, BINARY, CODE), 2),
        (EngineLayer("attention", 21, 8, 21, 4, CODE, CODE, 16), 2),
        (EngineLayer("attention", 21, 21, 8, 4, CODE, CODE, CODE, rhs_packed_along_out=True), 2),
        (EngineLayer("fc", 21, 32, 64, 1, CODE, BINARY, 16), 2),
        (EngineLayer("fc", 21, 64, 32, 1, CODE, BINARY, 16), 2),
        (EngineLayer("fc", 1, 32, 10, 1, 16, 16, 16), 1),
    )
    stream = (
        (StreamLayer("layer_norm", 21 * 32, 32, (16,), CODE), 4),
        (StreamLayer("add", 21 * 32, 32, (16, 16), 16), 4),
    )
    return Workload(engine, stream, name="small")


TINY_BOARD = replace(load_board("kv260"), name="tiny", dsp=160, lut=60_000, bram36=40)


# ---------------------------------------------------------------------------
# The tiling search is exhaustive
# ---------------------------------------------------------------------------


def brute_force(w: Workload, board, opts: Options, k: int):
    """Every tiling the rules allow, evaluated one by one with `estimate`; the fastest (cycles) wins."""
    budget_lut = board.lut * opts.lut_ceiling
    best = None
    for nh in (d for d in range(1, w.heads + 1) if w.heads % d == 0):
        s16, sq = math.lcm(nh, packing(16)), math.lcm(nh, packing(k))
        for tm, tn, tmq, tnq in itertools.product(range(s16, 97, s16), range(s16, 97, s16),
                                                  range(sq, 97, sq), range(sq, 65, sq)):
            if tm * tn > board.dsp * opts.dsp_ceiling:
                continue
            if DEFAULT_CALIBRATION.rest_luts(board) + DEFAULT_CALIBRATION.lut_per_bit * k * tmq * tnq > budget_lut:
                continue  # the LUT check of `estimate`, done first to skip the evaluation
            e = estimate(w, Design(k, tm, tn, tmq, tnq, nh, board.axi_ports // 3), board, DEFAULT_CALIBRATION)
            if e.lut > budget_lut or e.bram18 > int(board.bram18 * opts.bram_ceiling):
                continue
            if best is None or e.cycles < best.cycles:
                best = e
    return best


@pytest.mark.parametrize("k", [3, 8, 16])
def test_search_finds_the_fastest_tiling(k):
    w, opts = small_model(), Options()
    got = Searcher(w, TINY_BOARD, opts).datapath(k).estimate
    want = brute_force(w, TINY_BOARD, opts, k)
    assert got is not None and want is not None
    assert got.cycles == want.cycles
    assert got.dsp <= TINY_BOARD.dsp * opts.dsp_ceiling and got.lut <= TINY_BOARD.lut * opts.lut_ceiling


def test_search_respects_a_binding_bram_budget():
    w = small_model()
    opts = Options(bram_ceiling=0.45)
    got = Searcher(w, TINY_BOARD, opts).datapath(8).estimate
    want = brute_force(w, TINY_BOARD, opts, 8)
    assert got.cycles == want.cycles and got.bram18 <= int(TINY_BOARD.bram18 * 0.45)
    assert got.cycles > Searcher(w, TINY_BOARD, Options()).datapath(8).estimate.cycles


def test_the_chosen_tiling_follows_the_rules(deit_base):
    s = Searcher(deit_base, load_board("zcu102"))
    for k in range(1, MAX_BITS + 1):
        d = s.datapath(k).estimate.design
        assert deit_base.heads % d.nh == 0
        for size in (d.tm, d.tn):
            assert size % d.nh == 0 and size % packing(16) == 0
        for size in (d.tm_q, d.tn_q):
            assert size % d.nh == 0 and size % packing(k) == 0


# ---------------------------------------------------------------------------
# Monotone frame rate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("board", BOARDS)
def test_fewer_bits_never_fewer_fps(deit_base, board):
    fps = [r.fps for r in Searcher(deit_base, load_board(board)).table()]
    assert all(a >= b for a, b in zip(fps, fps[1:])), fps


def test_a_wider_datapath_fills_in_where_the_divisibility_rule_bites(deit_base):
    s = Searcher(deit_base, load_board("zcu102"))
    used = {r.bits: r.estimate.design.bits for r in s.table()}
    assert all(used[k] >= k for k in used)
    assert all(s.best(k).fps >= s.datapath(k).fps for k in used)


@pytest.mark.parametrize("field, values", [
    ("dsp_ceiling", (0.2, 0.5, 0.8, 1.0)),
    ("lut_ceiling", (0.5, 0.6, 0.8)),
    ("bram_ceiling", (0.3, 0.5, 0.9)),
])
@pytest.mark.parametrize("board", ["zcu102", "kv260"])
def test_more_resources_never_lower_fps(deit_base, board, field, values):
    for k in (6, 12):
        fps = [Searcher(deit_base, load_board(board), Options(**{field: v})).best(k).fps for v in values]
        assert all(a <= b for a, b in zip(fps, fps[1:])), (k, fps)


def test_a_bigger_device_never_lowers_fps(deit_base):
    zcu102 = load_board("zcu102")
    bigger = replace(zcu102, dsp=zcu102.dsp * 2, lut=zcu102.lut * 2, bram36=zcu102.bram36 * 2)
    for k in (2, 8, 16):
        assert Searcher(deit_base, bigger).best(k).fps >= Searcher(deit_base, zcu102).best(k).fps


# ---------------------------------------------------------------------------
# Choosing the precision
# ---------------------------------------------------------------------------


def test_deit_base_on_zcu102_needs_8_bits_for_24_fps_and_6_bits_for_30(deit_base):
    """The paper's flow chose these; here they come out of the calibrated model."""
    s = Searcher(deit_base, load_board("zcu102"))
    assert choose_precision(s, 24).bits == 8
    assert choose_precision(s, 30).bits == 6
    assert [c.bits for c in choose_all(s, [24, 30])] == [8, 6]


@pytest.mark.parametrize("board", BOARDS)
def test_binary_search_agrees_with_trying_every_precision(deit_base, board):
    s = Searcher(deit_base, load_board(board))
    fps = sorted({r.fps for r in s.table()})
    targets = [f * m for f in fps for m in (0.999, 1.0, 1.001)] + [0.5, fps[0] * 0.5]
    for t in targets:
        if t > s.max_fps().fps:
            with pytest.raises(VaqfError, match="above what"):
                choose_precision(s, t)
            continue
        fast, slow = choose_precision(s, t), exhaustive_precision(s, t)
        assert fast.bits == slow.bits, t
        assert fast.evaluated[0] == 1 and len(fast.evaluated) <= 5  # 1 bit, then at most four rounds


def test_an_unreachable_target_names_the_best(deit_base):
    s = Searcher(deit_base, load_board("zcu102"))
    with pytest.raises(VaqfError) as e:
        choose_precision(s, 500)
    msg = str(e.value)
    assert msg.startswith("target 500 FPS is above what zcu102 can reach: the best is ")
    assert msg.endswith(f"{s.max_fps().fps:.1f} FPS with 1-bit activations")


def test_pack_dsp_is_a_separate_design_point_that_never_loses(deit_base):
    s = Searcher(deit_base, load_board("zcu102"))
    for k in (6, 8):
        plain, packed = s.best(k), s.best(k, pack_dsp=True)
        assert packed.fps >= plain.fps
    packed8 = s.best(8, pack_dsp=True).estimate
    assert packed8.design.pack_dsp and packed8.fps > 1.1 * s.best(8).fps
    assert packed8.dsp == packed8.design.tm * packed8.design.tn  # no extra DSPs: idle ones


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"dsp_ceiling": 1.2}, "dsp-ceiling must be a fraction in \\(0, 1\\], got 1.2"),
    ({"lut_ceiling": 0}, "lut-ceiling must be a fraction in \\(0, 1\\], got 0"),
    ({"bram_ceiling": float("nan")}, "bram-ceiling must be a fraction"),
    ({"clock_mhz": -5}, "clock-mhz must be in \\(0, 1000\\]"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(VaqfError, match=message):
        Options(**kwargs)


@pytest.mark.parametrize("target", [0, -1, float("inf"), float("nan")])
def test_bad_targets(target):
    with pytest.raises(VaqfError, match="target-fps must be a number > 0"):
        check_target(target)


def test_a_model_without_quantizable_layers():
    module = read_ir_file(TINY)
    VaqfPipelinePass(wbits=16, abits=16).apply(Context(), module)
    with pytest.raises(VaqfError, match="no quantizable layers"):
        Searcher(extract_workload(module), load_board("zcu102"))


def test_a_board_whose_luts_the_engine_already_fills():
    s = Searcher(small_model(), TINY_BOARD, Options(lut_ceiling=0.2))  # L_rest alone is ~44% of the device
    assert all(not r.feasible for r in s.table())
    with pytest.raises(VaqfError, match="no design fits on tiny within the resource ceilings"):
        choose_precision(s, 1)


# ---------------------------------------------------------------------------
# `vaqf dse`
# ---------------------------------------------------------------------------


def test_vaqf_dse_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "dse.json"
    assert vaqf(["dse", str(TINY), "--board", "zcu102", "--target-fps", "1000", "--json", str(out), "--pack-dsp"]) == 0
    text = capsys.readouterr().out
    assert "bits     FPS" in text and "target 1000 FPS: 16-bit activations" in text
    assert "binary search evaluated 1, 9, 13, 15, 16 bits" in text and "search: 16 precisions" in text
    report = json.loads(out.read_text())
    assert [p["bits"] for p in report["precisions"]] == list(range(1, 17))
    assert report["targets"][0]["bits"] == 16 and len(report["calibration"]) == 3
    assert set(report["precisions"][0]) >= {"fps", "dsp", "lut", "bram36", "design", "layers", "feasible"}


def test_vaqf_dse_several_targets(capsys):
    assert vaqf(["dse", str(TINY), "--target-fps", "1000", "--target-fps", "2000"]) == 0
    assert capsys.readouterr().out.count("every precision evaluated") == 2


@pytest.mark.parametrize("args, message", [
    (["--board", "nosuch", "--target-fps", "24"], "unknown board 'nosuch'"),
    (["--target-fps", "0"], "target-fps must be a number > 0, got 0.0"),
    (["--target-fps", "24", "--lut-ceiling", "1.5"], "lut-ceiling must be a fraction in (0, 1], got 1.5"),
    (["--target-fps", "1e12"], "target 1e+12 FPS is above what zcu102 can reach: the best is "),
])
def test_vaqf_dse_errors_are_one_line(capsys, args, message):
    assert vaqf(["dse", str(TINY), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vaqf dse: error: ") and message in err and err.count("\n") == 1


def test_vaqf_dse_on_an_unquantized_model(tmp_path, capsys):
    module = read_ir_file(TINY)
    VaqfPipelinePass(wbits=16, abits=16).apply(Context(), module)
    from vaqf_compiler.ir import print_ir

    f = tmp_path / "w16.mlir"
    f.write_text(print_ir(module))
    assert vaqf(["dse", str(f), "--target-fps", "24"]) == 1
    assert "no quantizable layers" in capsys.readouterr().err
