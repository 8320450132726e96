"""The host side of the cost model (vaqf_compiler/cost/host.py): the board's CPU, host ops, synchronisation,
and the end-to-end search that places scale, softmax and GELU."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from vaqf_compiler.cost.boards import load_board, parse_board
from vaqf_compiler.cost.host import INSTRUCTIONS_PER_ELEMENT, MOVABLE, HostCpu, host_time
from vaqf_compiler.cost.workload import CODE, StreamLayer, Workload
from vaqf_compiler.dse.search import Options, Searcher, choose_precision
from vaqf_compiler.errors import VaqfError

BOARD = {"name": "b", "resources": {"dsp": 100, "lut": 1000, "bram36": 10},
         "memory": {"axi_ports": 6, "axi_port_bits": 128}}
CPU = {"name": "Cortex-A53", "clock_mhz": 1200, "ipc": 0.8, "call_us": 5, "sync_us": 20, "sync_gbps": 1.0}


def test_every_built_in_board_describes_its_cpu():
    for name, cpu in (("zcu102", "Cortex-A53"), ("zcu104", "Cortex-A53"), ("kv260", "Cortex-A53"),
                      ("u250", "x86-64 server (PCIe)")):
        board = load_board(name)
        assert board.cpu is not None and board.cpu.name == cpu and board.cpu.clock_mhz >= 1000


@pytest.mark.parametrize("cpu, message", [
    ({**CPU, "ipc": 0}, "[cpu]: 'ipc' must be a positive number, got 0"),
    ({**CPU, "call_us": -1}, "[cpu]: 'call_us' must be a number >= 0, got -1"),
    ({**CPU, "clock_mhz": "fast"}, "[cpu]: 'clock_mhz' must be a positive number, got 'fast'"),
    ({k: v for k, v in CPU.items() if k != "sync_gbps"}, "[cpu]: missing 'sync_gbps'"),
    ({**CPU, "cores": 4}, "[cpu]: unknown key(s) 'cores'"),
    ({**CPU, "name": ""}, "[cpu]: 'name' must be a non-empty string"),
    ("A53", "[cpu] must be a table"),
])
def test_bad_cpu_tables_are_one_line_errors(cpu, message):
    with pytest.raises(VaqfError) as e:
        parse_board({**BOARD, "cpu": cpu}, "mine.toml")
    assert message in str(e.value) and str(e.value).startswith("mine.toml") and "\n" not in str(e.value)


def _workload(rows: int, dim: int) -> Workload:
    host = ((StreamLayer("softmax", 2 * rows * rows, rows, (CODE,), CODE), 3),
            (StreamLayer("cls_concat", rows * dim, dim, (CODE,), CODE), 1),
            (StreamLayer("select_token", dim, dim, (CODE,), CODE), 1))
    return Workload((), (), host, "w", image_elements=3 * rows * dim)


def test_host_time_is_instructions_over_the_cpu_s_rate_and_sync_per_request():
    rows, dim = random.randint(10, 200), random.randint(8, 64)
    cpu = HostCpu("c", random.uniform(500, 3000), random.uniform(0.5, 3), random.uniform(0, 50),
                  random.uniform(0, 50), random.uniform(0.5, 20))
    t = host_time(_workload(rows, dim), 8, cpu, port_bits=64)
    instr = (3 * 2 * rows * rows * INSTRUCTIONS_PER_ELEMENT["softmax"] + rows * dim * INSTRUCTIONS_PER_ELEMENT["cls_concat"]
             + 3 * rows * dim * INSTRUCTIONS_PER_ELEMENT["quantize_image"])
    assert t.host_ms == pytest.approx(instr / (cpu.ipc * cpu.clock_mhz * 1e3))
    assert set(t.ops_ms) == {"softmax", "cls_concat", "quantize_image"}  # select_token is a view
    # Requests: per op one per input and one for the result (x occurrences), the image and the logits.
    assert t.sync_requests == 3 * 2 + 2 + 2
    words = lambda n, bits: -(-n // (64 // bits))  # noqa: E731
    moved = 8 * (3 * 2 * words(2 * rows * rows, 8) + 2 * words(rows * dim, 8) + words(3 * rows * dim, 16))
    assert t.sync_bytes == moved
    assert t.sync_ms == pytest.approx(t.sync_requests * cpu.sync_us / 1e3 + moved / (cpu.sync_gbps * 1e6))
    assert host_time(_workload(rows, dim), 8, None).host_ms == 0.0  # no [cpu]: the FPGA alone


def test_a_patchify_of_the_image_is_quantized_straight_into_patches():
    w = _workload(16, 16)
    fused = replace(w, host=w.host + ((StreamLayer("patchify", 3 * 256, 48, (16,), 16), 1),))
    t = host_time(fused, 8, load_board("zcu102").cpu)
    assert "image_to_patches" in t.ops_ms and "patchify" not in t.ops_ms and "quantize_image" not in t.ops_ms


def test_placed_moves_only_the_movable_kinds():
    w = _workload(20, 16)
    on = w.placed(frozenset({"softmax"}), MOVABLE)
    assert [lay.kind for lay, _ in on.stream] == ["softmax"] and on.kernel_calls == 3
    assert {lay.kind for lay, _ in on.host} == {"cls_concat", "select_token"}
    back = on.placed(frozenset(), MOVABLE)
    assert back.stream == () and sorted(back.host_ops) == sorted(w.host_ops)


@pytest.fixture(scope="module")
def deit_tiny():
    from vaqf_compiler.cli.dse_cmd import builtin_workload

    return builtin_workload("deit-tiny")


def test_end_to_end_search_places_the_movable_ops_and_adds_up(deit_tiny):
    board = load_board("zcu102")
    e2e = Searcher(deit_tiny, board, Options(end_to_end=True)).best(8).estimate
    fpga = Searcher(deit_tiny, board, Options()).best(8).estimate
    assert set(e2e.on_accel) == set(MOVABLE) and fpga.on_accel == ()  # on the A53 every movable op loses
    assert e2e.frame_ms == pytest.approx(e2e.latency_ms + e2e.host_ms + e2e.sync_ms)
    assert e2e.fps < fpga.fps  # the FPGA now streams softmax, GELU and scale too
    assert e2e.fps_end_to_end > fpga.fps_end_to_end  # ... and the frame is shorter for it
    # A CPU fast enough makes the host the better place: the search follows the cost.
    fast = replace(board, cpu=replace(board.cpu, ipc=1e6, sync_us=0.0, call_us=0.0, sync_gbps=1e6))
    assert Searcher(deit_tiny, fast, Options(end_to_end=True)).best(8).estimate.on_accel == ()


def test_a_target_the_fpga_meets_but_not_end_to_end_is_a_one_line_error(deit_tiny):
    board = load_board("zcu102")
    s = Searcher(deit_tiny, board, Options(end_to_end=True))
    top = s.max_fps().estimate
    target = (top.fps_end_to_end + top.fps) / 2  # between the two
    assert choose_precision(Searcher(deit_tiny, board, Options()), target).bits >= 1  # the FPGA alone: fine
    with pytest.raises(VaqfError) as e:
        choose_precision(s, target)
    msg = str(e.value)
    assert msg.startswith(f"target {target:g} FPS is above what zcu102 can reach end to end: the best is "
                          f"{top.fps_end_to_end:.1f} FPS with 1-bit activations (the FPGA alone: {top.fps:.1f} FPS")
    assert "\n" not in msg
