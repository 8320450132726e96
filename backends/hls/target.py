"""What the emitted accelerator is built for: port width, tiling, FPGA part, clock.

The tiling (Tm, Tn, Nh for the 16-bit DSP array; Tm_q, Tn_q for the binary LUT
array; PoT_tm for the power-of-two shift-add array of the mixed scheme) is a
decision of the cost model, written on `accel.engine` ops by the
`assign-tiling` pass. The backend only reads it; a module without it gets the
defaults below (and the project README says so).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xdsl.dialects.builtin import IntAttr, IntegerAttr, ModuleOp
from xdsl.ir import Attribute

from vaqf_compiler.dialects import accel
from vaqf_compiler.errors import VaqfError


# Largest tile size accepted: 1024 x 1024 MACs is beyond every FPGA's DSPs and LUTs, and the
# C simulation keeps tiles on the stack (a million-wide tile overflows it).
MAX_TILE = 1024

CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
while xor xor_eq""".split())


def check_cpp_name(name: str, what: str) -> None:
    """`name` can name a C++ function of the generated project: an ASCII identifier, not a keyword,
    not `main` (the host's) and not reserved to the implementation (`__x`, `_X`)."""
    why = None
    if not (name.isascii() and name.isidentifier()):
        why = "is not a C++ identifier (letters, digits and _, not starting with a digit)"
    elif name in CPP_KEYWORDS:
        why = "is a C++ keyword"
    elif name == "main":
        why = "is the host program's entry point"
    elif name.startswith("__") or (name[0] == "_" and len(name) > 1 and name[1].isupper()):
        why = "is reserved to the C++ implementation"
    if why:
        raise VaqfError(f"{what} {name!r} {why}; choose another, e.g. vaqf_top")


@dataclass(frozen=True)
class Tiling:
    """Tile sizes of the shared engine's two MAC arrays."""

    tm: int = 16  # 16-bit array: output channels per step
    tn: int = 32  # 16-bit array: input channels per step (nh head groups of tn / nh)
    nh: int = 1  # heads processed in parallel by attention products
    tm_q: int = 32  # binary array: output channels per step
    tn_q: int = 64  # binary array: input channels per step
    pot_tm: int = 32  # power-of-two array (mixed scheme): output channels per step (inputs: tn)

    def check(self) -> None:
        for name in ("tm", "tn", "nh", "tm_q", "tn_q", "pot_tm"):
            if getattr(self, name) < 1:
                raise VaqfError(f"tiling: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("tm", "tn", "nh", "tm_q", "tn_q", "pot_tm"):
            if getattr(self, name) > MAX_TILE:
                raise VaqfError(f"tiling: {name} must be <= {MAX_TILE} (no FPGA holds a wider MAC array), "
                                f"got {getattr(self, name)}")
        if self.tn % self.nh:
            raise VaqfError(f"tiling: tn={self.tn} must be a multiple of nh={self.nh}")


@dataclass(frozen=True)
class Board:
    """The FPGA the project targets (run_hls.tcl's part and clock)."""

    name: str = "zcu102"
    part: str = "xczu9eg-ffvb1156-2-e"
    clock_mhz: float = 150.0
    host: str = "zynq"  # "zynq" (embedded ARM, PYNQ-style) or "xrt" (Alveo)


BOARDS: dict[str, Board] = {
    "zcu102": Board(),
    "zcu104": Board("zcu104", "xczu7ev-ffvc1156-2-e", 150.0, "zynq"),
    "kv260": Board("kv260", "xck26-sfvc784-2LV-c", 150.0, "zynq"),
    "u250": Board("u250", "xcu250-figd2104-2L-e", 200.0, "xrt"),
}


@dataclass(frozen=True)
class HlsOptions:
    """Everything about the emitted project that is not in the IR."""

    top: str = "vaqf_top"
    port_bits: int = 64
    board: Board = Board()
    tiling: Tiling | None = None  # None: read from the IR (`assign-tiling`), else the defaults

    def check(self) -> None:
        if self.port_bits < 64 or self.port_bits % 64 or self.port_bits > 1024:
            raise VaqfError(f"port width must be a multiple of 64 up to 1024 bits, got {self.port_bits}")
        check_cpp_name(self.top, "top function name")

    def with_tiling(self, tiling: Tiling) -> HlsOptions:
        return replace(self, tiling=tiling)


def _int(attr: Attribute | None) -> int | None:
    if isinstance(attr, IntAttr):
        return attr.data
    if isinstance(attr, IntegerAttr):
        return attr.value.data
    return None


@dataclass(frozen=True)
class IrTiling:
    """What `assign-tiling` wrote on the engine ops (`#accel.tiling<tm, tn, nh, g, ports[, pot_tm]>`)."""

    tiling: Tiling  # fields no engine op gave keep their defaults
    code_g: int | None  # G of the layers with k-bit inputs: codes per word
    ports: int | None


def tiling_from_ir(module: ModuleOp) -> IrTiling | None:
    """The engine's tiling as `assign-tiling` wrote it on every `accel.engine`, or None.

    A binary-weight layer's `tm`/`tn` are the binary array's (Tm_q, Tn_q); any other
    layer's are the 16-bit array's (Tm, Tn, Nh): a mixed-weight layer's fixed-point rows
    run there too, its power-of-two rows on the PoT array of `pot_tm` rows (present only
    when the layer has PoT rows). All layers of one array must agree.
    """
    dsp: set[tuple[int, int, int]] = set()
    binary: set[tuple[int, int]] = set()
    pot: set[int] = set()
    code_g: set[int] = set()
    ports: set[int] = set()
    for op in module.walk():
        if not isinstance(op, accel.EngineOp):
            continue
        attr = op.properties.get("tiling") or op.attributes.get("tiling")
        if attr is None:
            continue
        tm, tn, nh, g, p = (_int(getattr(attr, k, None)) for k in ("tm", "tn", "nh", "g", "ports"))
        if tm is None or tn is None:
            raise VaqfError(f"accel.engine: unreadable tiling {attr}")
        if (_int(getattr(attr, "dsp_lanes", None)) or 0) > 0:
            raise VaqfError("hls: the tiling lets idle DSPs run binary MACs (pack-dsp, dsp_lanes > 0), which the "
                            "emitted kernel does not implement; run assign-tiling without pack-dsp")
        is_binary = not op.is_attention and op.quant.weights.number_kind == "binary"
        if is_binary:
            binary.add((tm, tn))
        else:
            dsp.add((tm, tn, nh or 1))
        if (_int(getattr(attr, "pot_tm", None)) or 0) > 0:
            pot.add(_int(attr.pot_tm))  # type: ignore[arg-type]
        if g is not None and op.quant.inputs.number_kind in ("int", "uint"):
            code_g.add(g)
        if p is not None:
            ports.add(p)
    if not dsp and not binary:
        return None
    for what, values in (("16-bit array", dsp), ("binary array", binary), ("PoT array", pot), ("packing g", code_g),
                         ("ports", ports)):
        if len(values) > 1:
            raise VaqfError(f"accel.engine ops carry different {what} tilings {sorted(values)}; the engine is shared")
    t = Tiling()
    if dsp:
        tm, tn, nh = dsp.pop()
        t = replace(t, tm=tm, tn=tn, nh=nh)
    if binary:
        tm_q, tn_q = binary.pop()
        t = replace(t, tm_q=tm_q, tn_q=tn_q)
    if pot:
        t = replace(t, pot_tm=pot.pop())
    return IrTiling(t, code_g.pop() if code_g else None, ports.pop() if ports else None)
