"""The design-space search (vaqf_compiler/dse) and `vaqf dse`: exhaustive tiling search, monotone
frame rate, the paper's binary search over precision, DeiT-base's choices, bad input."""

from __future__ import annotations

import itertools
import re
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
    assert "bits FPS e2e    FPGA host ms sync ms" in text and "target 1000 FPS: 16-bit activations" in text
    assert "binary search evaluated 1, 9, 13, 15, 16 bits" in text and "search: 16 precisions" in text
    report = json.loads(out.read_text())
    assert [p["bits"] for p in report["precisions"]] == list(range(1, 17))
    assert report["targets"][0]["bits"] == 16 and len(report["calibration"]) == 3
    assert set(report["precisions"][0]) >= {"fps", "dsp", "lut", "bram36", "design", "layers", "feasible",
                                           "fps_fpga", "host_ms_per_frame", "sync_ms_per_frame", "fps_end_to_end"}
    for p in report["precisions"]:  # end to end = one frame of FPGA, host ops and synchronisation in turn
        assert 1e3 / p["fps_end_to_end"] == pytest.approx(1e3 / p["fps_fpga"] + p["host_ms_per_frame"]
                                                          + p["sync_ms_per_frame"])
        assert p["host_ms_per_frame"] > 0 and p["sync_ms_per_frame"] > 0


def test_vaqf_dse_several_targets(capsys):
    assert vaqf(["dse", str(TINY), "--target-fps", "1000", "--target-fps", "2000"]) == 0
    assert capsys.readouterr().out.count("every precision evaluated") == 2


@pytest.mark.parametrize("args, message", [
    (["--board", "nosuch", "--target-fps", "24"], "unknown board 'nosuch'"),
    (["--target-fps", "0"], "target-fps must be a number > 0, got 0.0"),
    (["--target-fps", "24", "--lut-ceiling", "1.5"], "lut-ceiling must be a fraction in (0, 1], got 1.5"),
    (["--target-fps", "1e12"], "target 1e+12 FPS is above what zcu102 can reach end to end: the best is "),
    (["--target-fps", "1e12", "--fpga-only"], "target 1e+12 FPS is above what zcu102 can reach: the best is "),
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


# ---------------------------------------------------------------------------
# Mixed scheme (ours): the joint search of the PoT ratio and both arrays
# ---------------------------------------------------------------------------

import numpy as np  # noqa: E402

from vaqf_compiler.cost.model import mixed_cycles, pot_mac_luts, pot_rows_of  # noqa: E402
from vaqf_compiler.dse.mixed import (  # noqa: E402
    MixedSearcher,
    balance_ratio,
    effective_ratio,
    plan_mixed,
    ratio_grid,
)


def mixed_brute_force(w: Workload, board, opts: Options, k: int, ratios):
    """Every (nh, tm, tn, pot_tm, r) the rules allow, one `estimate` each; the fewest cycles win."""
    cal = DEFAULT_CALIBRATION
    budget_lut = board.lut * opts.lut_ceiling
    per_mac = pot_mac_luts(k, w.mixed_bits, cal)
    best = None
    for nh in (d for d in range(1, w.heads + 1) if w.heads % d == 0):
        s16 = math.lcm(nh, packing(16))
        for tm, tn, pot_tm, r in itertools.product(range(s16, 97, s16), range(s16, 97, s16), range(0, 97, 4), ratios):
            if tm * tn > board.dsp * opts.dsp_ceiling or cal.rest_luts(board) + per_mac * pot_tm * tn > budget_lut:
                continue
            if pot_tm == 0 and any(lay.mixed and pot_rows_of(lay, r) for lay, _ in w.engine):
                continue
            d = Design(k, tm, tn, 0, 0, nh, board.axi_ports // 3, pot_tm=pot_tm, pot_ratio=r)
            e = estimate(w, d, board, cal)
            if e.bram18 > int(board.bram18 * opts.bram_ceiling):
                continue
            if best is None or e.cycles < best.cycles:
                best = e
    return best


@pytest.mark.parametrize("k", [4, 8])
def test_mixed_search_finds_the_fastest_design(k):
    w, opts, ratios = small_model().as_mixed(4), Options(), ratio_grid(4)
    got = MixedSearcher(w, TINY_BOARD, opts, ratios=ratios).datapath(k).estimate
    want = mixed_brute_force(w, TINY_BOARD, opts, k, ratios)
    assert got is not None and want is not None
    assert got.cycles == want.cycles
    assert got == estimate(w, got.design, TINY_BOARD, DEFAULT_CALIBRATION)  # the reported estimate is the model's


@pytest.fixture(scope="module")
def mixed_zcu102(deit_base) -> MixedSearcher:
    return MixedSearcher(deit_base, load_board("zcu102"))


def test_mixed_search_balances_the_two_arrays(mixed_zcu102):
    s = mixed_zcu102
    for k in (6, 8):
        e = s.best(k).estimate
        d = e.design
        assert 0 < d.pot_ratio < 1 and d.pot_tm > 0  # both arrays work
        assert abs(d.pot_ratio - balance_ratio(d.tm, d.pot_tm)) <= 1 / 16  # the grid point next to r*
        gap = slow = 0
        for lay, n in s.workload.engine:
            if lay.mixed:
                t = mixed_cycles(lay, k, d.tm, d.tn, d.pot_tm, pot_rows_of(lay, d.pot_ratio), d.ports,
                                 DEFAULT_CALIBRATION.axi_efficiency, detail=True)
                gap += n * abs(t.time_fixed - t.time_pot)
                slow += n * max(t.time_fixed, t.time_pot)
        assert gap <= 0.02 * slow  # time_fixed ≈ time_pot on every mixed layer
        # Moving the ratio one grid step either way, same tiling, is never faster.
        for r in (d.pot_ratio - 1 / 16, d.pot_ratio + 1 / 16):
            assert estimate(s.workload, replace(d, pot_ratio=r), s.board, s.calib).cycles >= e.cycles


@pytest.mark.parametrize("board", ["zcu102", "zcu104", "kv260"])
def test_mixed_fewer_bits_never_fewer_fps_and_budgets_hold(deit_base, board):
    s = MixedSearcher(deit_base, load_board(board))
    results = s.table()
    fps = [r.fps for r in results]
    assert all(a >= b for a, b in zip(fps, fps[1:]))
    for r in results:
        e = r.estimate
        assert e.dsp <= s.budget.dsp and e.lut <= s.budget.lut and e.bram18 <= s.budget.bram18


def test_mixed_more_resources_never_lower_fps(deit_base):
    base = load_board("zcu104")
    fps = [MixedSearcher(deit_base, base, Options(lut_ceiling=c)).best(8).fps for c in (0.5, 0.6, 0.7)]
    assert fps == sorted(fps) and fps[0] < fps[-1]
    fps = [MixedSearcher(deit_base, base, Options(dsp_ceiling=c)).best(8).fps for c in (0.5, 0.8, 1.0)]
    assert fps == sorted(fps) and fps[0] < fps[-1]


def test_mixed_ratio_zero_and_one(deit_base, mixed_zcu102):
    board = load_board("zcu102")
    grid = mixed_zcu102.best(8).estimate
    fixed = MixedSearcher(deit_base, board, ratios=(0.0,)).best(8).estimate
    pot = MixedSearcher(deit_base, board, ratios=(1.0,)).best(8).estimate
    # r = 0: no shift-add array, no LUTs beyond the rest; r = 1: every mixed row on the shift-add array.
    assert fixed.design.pot_tm == 0 and fixed.lut == round(DEFAULT_CALIBRATION.lut_rest)
    assert pot.design.pot_tm > 0 and effective_ratio(mixed_zcu102.workload, pot.design) == 1.0
    # The grid holds both ends, and balancing both arrays beats either alone.
    assert grid.fps > max(fixed.fps, pot.fps)


def test_mixed_search_is_fast_and_coarsens_only_on_the_large_device(deit_base):
    s = MixedSearcher(deit_base, load_board("zcu102"))
    s.best(8)
    assert s.stats.grid_step == packing(16) and s.stats.seconds < 5


@pytest.mark.slow
def test_mixed_on_the_u250_coarsens_the_grid(deit_base):
    s = MixedSearcher(deit_base, load_board("u250"))
    e = s.best(8).estimate
    assert s.stats.grid_step > packing(16) and e.fps > MixedSearcher(deit_base, load_board("zcu102")).best(8).fps


def test_mixed_precision_choice_is_the_vaqf_rule(mixed_zcu102):
    s = mixed_zcu102
    for target in (12.0, 16.0, 20.0):
        assert choose_precision(s, target).bits == exhaustive_precision(s, target).bits
    with pytest.raises(VaqfError, match="above what zcu102 can reach"):
        choose_precision(s, 1e6)


@pytest.mark.parametrize("kwargs, message", [
    ({"wbits": 9}, "mixed-scheme weights need 2..8 bits"),
    ({"ratios": (1.5,)}, "pot-ratio must be in [0, 1]"),
])
def test_mixed_bad_options(deit_base, kwargs, message):
    with pytest.raises(VaqfError, match=re.escape(message)):
        MixedSearcher(deit_base, load_board("zcu102"), **kwargs)


def test_the_vaqf_search_refuses_mixed_weights(deit_base):
    with pytest.raises(VaqfError, match="mixed-scheme weights; search it with the mixed scheme"):
        Searcher(deit_base.as_mixed(4), load_board("zcu102"))


def test_mixed_needs_quantizable_layers():
    module = read_ir_file(TINY)
    VaqfPipelinePass(wbits=16, abits=16).apply(Context(), module)
    with pytest.raises(VaqfError, match="no quantizable layers"):
        MixedSearcher(extract_workload(module), load_board("zcu102"))


def _mixed_tiny(tmp_path, ratio: float, abits: int = 8):
    from test_cost_model import random_weights  # noqa: PLC0415

    module = read_ir_file(TINY)
    npz = random_weights(module, tmp_path / "w.npz")
    VaqfPipelinePass(scheme="mixed", wbits=4, abits=abits, pot_ratio=ratio, weights=npz).apply(Context(), module)
    return module


def test_plan_then_lower_then_assign_tiling_agree(tmp_path):
    """The compile driver's path: plan on the VAQF lowering, lower with the plan's ratio, tile."""
    from vaqf_compiler.passes.assign_tiling import AssignTilingPass

    module = read_ir_file(TINY)
    VaqfPipelinePass(wbits=1, abits=8).apply(Context(), module)
    board = load_board("kv260")
    plan = plan_mixed(extract_workload(module), board, 1e5)
    assert plan.wbits == 4 and 1 <= plan.bits <= 16 and plan.estimate.fps >= 1e5
    lowered = _mixed_tiny(tmp_path, plan.pot_ratio, plan.bits)
    AssignTilingPass(board="kv260", target_fps=1e5).apply(Context(), lowered)
    fn = next(op for op in lowered.walk() if op.name == "func.func")
    d = plan.estimate.design
    assert fn.attributes["accel.pot_tm"].value.data == d.pot_tm
    assert fn.attributes["accel.dsp"].value.data == plan.estimate.dsp
    assert fn.attributes["accel.lut"].value.data == plan.estimate.lut
    tilings = {(t.tm.data, t.tn.data, t.nh.data, t.pot_tm.data) for op in lowered.walk()
               if op.name == "accel.engine" and (t := op.properties["tiling"])}
    assert (d.tm, d.tn, d.nh, d.pot_tm if d.pot_ratio else 0) in tilings
    # A fixed precision (a checkpoint's) below the target is refused in one line.
    with pytest.raises(VaqfError, match="16-bit activations reach"):
        plan_mixed(extract_workload(module), board, 1e12, bits=16)


def test_vaqf_dse_both_schemes(tmp_path, capsys):
    out = tmp_path / "dse.json"
    # The FPGA's figures (DeiT-base does not reach 14 FPS end to end on the ZCU102's CPU: see test_end_to_end)
    assert vaqf(["dse", "--builtin", "deit-base", "--target-fps", "14", "--scheme", "both", "--json", str(out),
                 "--fpga-only"]) == 0
    text = capsys.readouterr().out
    assert "vaqf scheme: binary weights" in text and "mixed scheme (ours): 4-bit weights" in text
    assert "PoT ratio searched over 17 values" in text and text.count("search: 16 precisions") == 2
    assert "comparison at 14 FPS (predicted by our cost model):" in text
    row = next(line for line in text.splitlines() if line.startswith("mixed   W4A"))
    assert "| pot " in row and "| r 0." in row
    report = json.loads(out.read_text())
    assert report["scheme"] == "both" and report["vaqf"]["scheme"] == "vaqf" and report["mixed"]["scheme"] == "mixed"
    assert report["mixed"]["wbits"] == 4 and len(report["mixed"]["pot_ratios"]) == 17
    assert report["mixed"]["targets"][0]["bits"] == report["comparison"][0]["mixed"]["bits"]
    assert {"pot_tm", "pot_ratio"} <= set(report["mixed"]["precisions"][7]["design"])


def test_vaqf_dse_mixed_with_a_fixed_ratio_and_a_mixed_ir(tmp_path, capsys):
    from vaqf_compiler.ir import print_ir

    assert vaqf(["dse", str(TINY), "--scheme", "mixed", "--pot-ratio", "0.25", "--target-fps", "1000"]) == 0
    text = capsys.readouterr().out
    assert "PoT ratio fixed at 0.25" in text and "| r 0.25 |" in text and "vaqf scheme" not in text
    assert vaqf(["dse", "--builtin", "deit-base", "--scheme", "mixed", "--target-fps", "16", "--pack-dsp",
                 "--fpga-only"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "with --pack-dsp" in x)
    assert "(2 rows/DSP)" in line and "FPS (+" in line
    f = tmp_path / "mixed.mlir"
    f.write_text(print_ir(_mixed_tiny(tmp_path, 0.5)))
    assert vaqf(["dse", str(f), "--scheme", "both", "--target-fps", "1000"]) == 0
    text = capsys.readouterr().out
    assert "the row split the IR fixes" in text and "vaqf scheme: binary weights" in text


@pytest.mark.parametrize("args, message", [
    (["--scheme", "mixed", "--wbits", "9"], "--wbits must be in 2..8 for mixed weights, got 9"),
    (["--scheme", "both", "--pot-ratio", "1.5"], "--pot-ratio must be in [0, 1], got 1.5"),
    (["--wbits", "4"], "--wbits and --pot-ratio are options of --scheme mixed (or both)"),
    (["--scheme", "both", "--target-fps", "1e12"], "vaqf scheme: target 1e+12 FPS is above what zcu102 can reach"),
    (["--scheme", "mixed", "--target-fps", "1e12"], "target 1e+12 FPS is above what zcu102 can reach"),
])
def test_vaqf_dse_mixed_errors_are_one_line(capsys, args, message):
    if "--target-fps" not in args:
        args = [*args, "--target-fps", "24"]
    assert vaqf(["dse", str(TINY), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vaqf dse: error: ") and message in err and err.count("\n") == 1
