"""The board files of an emitted project (backends/hls/emit_board.py), checked as far as this machine can.

Vivado and v++ are not here. The block-design and bitstream Tcl are sourced by
`tclsh` with every Vivado command stubbed (Tcl's `unknown` records each call),
which proves they parse and run in order, and their interface names and widths
are checked against the kernel the same project emits; the v++ configuration's
port names likewise.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from test_hls_csim import lowered, small  # noqa: F401  (the reduced DeiT and its W1A8 lowering)
from vaqf_compiler.backends.hls import BOARDS, HlsOptions, emit_project


@pytest.fixture(scope="module")
def w1a8(small):  # noqa: F811
    return lowered(small, 1, 8)

needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None, reason="needs tclsh")

STUB = r"""
set calls {}
proc unknown {args} {
  global calls
  lappend calls $args
  switch -- [lindex $args 0] {
    get_board_parts { return "" }
    get_property { return "100%" }
  }
  return stub
}
# Vivado's files do not exist here: `file copy` is recorded, the rest of `file` is Tcl's.
rename file tcl_file
proc file {sub args} {
  global calls
  if {$sub eq "copy"} { lappend calls [list file copy {*}$args]; return }
  return [tcl_file $sub {*}$args]
}
source [lindex $argv 0]
foreach c $calls { puts $c }
"""


def _kernel_interface(files: dict[str, bytes]) -> tuple[set[str], set[str], int]:
    top = files["kernel/vaqf_top.cpp"].decode()
    m_axi = set(re.findall(r"INTERFACE m_axi port=\w+ offset=slave bundle=(\w+)", top))
    ctrl = set(re.findall(r"INTERFACE s_axilite port=\w+ bundle=(\w+)", top))
    config = files["kernel/vaqf_config.h"].decode()
    port_bits = int(re.search(r"PORT_BITS = (\d+)", config).group(1))
    return m_axi, ctrl, port_bits


def _source(tmp_path, files: dict[str, bytes], name: str) -> str:
    (tmp_path / "stub.tcl").write_text(STUB)
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(files[name])
    run = subprocess.run(["tclsh", str(tmp_path / "stub.tcl"), str(tmp_path / name)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


@needs_tclsh
@pytest.mark.parametrize("board, port_bits", [("zcu102", 64), ("kv260", 128)])
def test_zynq_block_design_connects_the_kernel_s_interface(small, w1a8, tmp_path, board, port_bits):  # noqa: F811
    files = emit_project(w1a8, small.params, options=HlsOptions(board=BOARDS[board], port_bits=port_bits))
    m_axi, ctrl, width = _kernel_interface(files)
    assert width == port_bits and len(m_axi) == 4 and ctrl == {"control"}
    calls = _source(tmp_path, files, "board/block_design.tcl")
    # Every m_axi bundle of the kernel goes to its own HP port; the control slave to HPM0.
    masters = re.findall(r"Master /kernel/m_axi_(\w+) Slave /ps/(S_AXI_HP\d_FPD)", calls)
    assert {m for m, _ in masters} == m_axi and len({hp for _, hp in masters}) == 4
    assert f"Master /ps/M_AXI_HPM0_FPD Slave /kernel/s_axi_{ctrl.pop()}" in calls
    # The HP ports are as wide as the kernel's ports (at most 128 bits on the PS).
    widths = re.findall(r"CONFIG.PSU__SAXIGP\d__DATA_WIDTH (\d+)", calls)
    assert widths == [str(min(port_bits, 128))] * 4
    assert "NAME == vaqf_top" in calls and "-part " + BOARDS[board].part in calls
    assert "offset 0xA0000000" in calls and "validate_bd_design" in calls
    # The README's host command uses that address and a buffer big enough for the model's DDR.
    readme = files["board/README.md"].decode()
    assert "./vaqf_zynq 0xA0000000 udmabuf0" in readme and "board/build_bitstream.tcl" in readme
    ddr = int(re.search(r"kDdrWords = (\d+)", files["host/vaqf_model.h"].decode()).group(1))
    size = int(re.search(r"udmabuf0=(\d+)", readme).group(1))
    assert size >= ddr * port_bits // 8
    steps = _source(tmp_path, files, "board/build_bitstream.tcl")
    assert steps.index("launch_runs impl_1") < steps.index("wait_on_run") < steps.index("write_hw_platform")


def test_alveo_link_config_maps_every_port_to_one_bank(small, w1a8):  # noqa: F811
    files = emit_project(w1a8, small.params, options=HlsOptions(board=BOARDS["u250"], port_bits=512))
    cfg = files["board/vaqf.cfg"].decode()
    top = files["kernel/vaqf_top.cpp"].decode()
    ports = re.search(r"void vaqf_top\((.*?)\)", top).group(1)
    names = re.findall(r"word_t\* (\w+)", ports)
    assert re.findall(r"^sp=vaqf_top_1\.(\w+):DDR\[0\]$", cfg, re.M) == names and len(names) == 4
    assert "nk=vaqf_top:1:vaqf_top_1" in cfg and "kernel_frequency=200" in cfg
    assert "board/block_design.tcl" not in files
    assert "--config board/vaqf.cfg" in files["board/README.md"].decode()
