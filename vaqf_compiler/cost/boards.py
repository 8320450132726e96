"""FPGA boards: the resources the cost model may spend, from the vendors' data sheets.

Built-in boards live in `vaqf_compiler/cost/boards/<name>.toml`; a user adds
one by writing the same small TOML file and passing its path wherever a
board name is accepted (`--board my_board.toml`, `assign-tiling{board=…}`):

    name = "myboard"
    description = "…"            # optional
    part = "xczu5ev-…"           # optional
    host = "ps"                  # "ps" (on-chip ARM) or "pcie" (a server)

    [resources]                  # whole-device counts from the data sheet
    dsp = 1248
    lut = 117120
    ff = 234240                  # optional
    bram36 = 144                 # 36 Kib block RAMs
    uram = 64                    # optional

    [memory]
    axi_ports = 6                # AXI ports the accelerator may use to reach DDR
    axi_port_bits = 128          # the widest each of them allows

    [cpu]                        # optional: the host processor (end-to-end frame rate; cost/host.py)
    name = "Cortex-A53"
    clock_mhz = 1200
    ipc = 0.8                    # instructions per cycle on the host ops (say where it comes from)
    call_us = 5                  # per kernel call: descriptor registers, start, completion
    sync_us = 20                 # per cache-maintenance / transfer request
    sync_gbps = 1.0              # cache maintenance (Zynq) or DMA (PCIe) rate, GB/s

Without `[cpu]` the board's host costs nothing: the frame rate is the FPGA's.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vaqf_compiler.cost.host import HostCpu, parse_host_cpu
from vaqf_compiler.errors import VaqfError

HOSTS = ("ps", "pcie")


@dataclass(frozen=True)
class Board:
    name: str
    dsp: int
    lut: int
    bram36: int
    axi_ports: int
    axi_port_bits: int
    ff: int = 0
    uram: int = 0
    host: str = "ps"
    part: str = ""
    description: str = ""
    cpu: HostCpu | None = None  # the host processor; None: host time not modelled

    @property
    def bram18(self) -> int:
        return 2 * self.bram36


def _builtin_dir():
    return resources.files("vaqf_compiler.cost").joinpath("boards")


def builtin_boards() -> list[str]:
    """Names of the boards that ship with vaqf."""
    return sorted(p.name.removesuffix(".toml") for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _int(table: dict[str, Any], key: str, where: str, *, required: bool = True, minimum: int = 1) -> int:
    if key not in table:
        if required:
            raise VaqfError(f"{where}: missing '{key}'")
        return 0
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise VaqfError(f"{where}: '{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise VaqfError(f"{where}: unknown key(s) {', '.join(map(repr, extra))}; expected {', '.join(sorted(allowed))}")


def parse_board(data: dict[str, Any], where: str) -> Board:
    """A `Board` from the parsed TOML table; every problem is a one-line `VaqfError`."""
    _check_keys(data, {"name", "description", "part", "host", "resources", "memory", "cpu"}, where)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise VaqfError(f"{where}: 'name' must be a non-empty string")
    for key in ("description", "part", "host"):
        if key in data and not isinstance(data[key], str):
            raise VaqfError(f"{where}: '{key}' must be a string")
    host = data.get("host", "ps")
    if host not in HOSTS:
        raise VaqfError(f"{where}: 'host' must be one of {', '.join(HOSTS)}, got {host!r}")
    res, mem = data.get("resources"), data.get("memory")
    if not isinstance(res, dict):
        raise VaqfError(f"{where}: missing table [resources]")
    if not isinstance(mem, dict):
        raise VaqfError(f"{where}: missing table [memory]")
    _check_keys(res, {"dsp", "lut", "ff", "bram36", "uram"}, f"{where} [resources]")
    _check_keys(mem, {"axi_ports", "axi_port_bits"}, f"{where} [memory]")
    return Board(
        name=name.strip(),
        dsp=_int(res, "dsp", f"{where} [resources]"),
        lut=_int(res, "lut", f"{where} [resources]"),
        bram36=_int(res, "bram36", f"{where} [resources]"),
        ff=_int(res, "ff", f"{where} [resources]", required=False, minimum=0),
        uram=_int(res, "uram", f"{where} [resources]", required=False, minimum=0),
        axi_ports=_int(mem, "axi_ports", f"{where} [memory]"),
        axi_port_bits=_int(mem, "axi_port_bits", f"{where} [memory]", minimum=8),
        host=host,
        part=data.get("part", ""),
        description=data.get("description", ""),
        cpu=parse_host_cpu(data["cpu"], where) if "cpu" in data else None,
    )


def _parse_text(text: str, where: str) -> Board:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise VaqfError(f"{where}: not valid TOML: {e}") from None
    return parse_board(data, where)


def load_board(spec: str) -> Board:
    """A built-in board by name (`zcu102`), or a board file by path (`boards/mine.toml`)."""
    spec = spec.strip()
    if not spec:
        raise VaqfError("no board given; choose one of: " + ", ".join(builtin_boards()) + " (or a .toml file)")
    if is_board_file(spec):
        path = Path(spec)
        if not path.is_file():
            raise VaqfError(f"board file {spec} not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise VaqfError(f"cannot read board file {spec}: {e}") from None
        return _parse_text(text, spec)
    name = spec.lower()
    if name not in builtin_boards():
        raise VaqfError(
            f"unknown board {spec!r}; choose one of: {', '.join(builtin_boards())} (or the path of a .toml board file)"
        )
    return _parse_text(_builtin_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8"), f"board {name}")


def is_board_file(spec: str) -> bool:
    """A board given as a TOML file's path rather than a built-in name."""
    spec = spec.strip()
    return spec.endswith(".toml") or "/" in spec
