"""Small inline-SVG charts for the compile report: a line chart and a horizontal bar chart.

Our own ~150 lines instead of matplotlib (a 40 MB dependency with a native
build) for three kinds of chart; the output is plain SVG text that embeds in
HTML as is and renders in any browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FONT = 'font-family="Helvetica, Arial, sans-serif"'


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float | None]  # None: no point (e.g. nothing fits at that precision)
    color: str = PALETTE[0]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt_value(v: float) -> str:
    """3 significant digits without exponent notation: 0.0665, 5.87, 616, 1,246."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.2g}"


def line_chart(title: str, series: Sequence[Series], x_label: str, y_label: str, *,
               hline: tuple[float, str] | None = None, mark: tuple[float, float, str] | None = None,
               y_min: float | None = 0.0, y_max: float | None = None, width: int = 560, height: int = 320) -> str:
    """Lines with dots; `hline` (y, label) dashed across; `mark` (x, y, label) a ringed point."""
    left, right, top, bottom = 64, 16, 34, 48 + 18 * ((len(series) + 2) // 3)
    pw, ph = width - left - right, height - top - bottom
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in s.ys if y is not None] + ([hline[0]] if hline else [])
    x_lo, x_hi = min(xs), max(xs)
    y_lo = min(ys) if y_min is None else y_min
    y_hi = max(ys) if y_max is None else y_max
    yt = nice_ticks(y_lo, y_hi)
    y_lo, y_hi = yt[0], yt[-1]

    def px(x: float) -> float:
        return left + (x - x_lo) / ((x_hi - x_lo) or 1) * pw

    def py(y: float) -> float:
        return top + ph - (y - y_lo) / ((y_hi - y_lo) or 1) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold" {FONT}>'
           f'{escape(title)}</text>']
    for t in yt:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11" {FONT}>{_fmt(t)}</text>')
    for x in sorted(set(xs)):
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 15}" text-anchor="middle" font-size="11" {FONT}>{_fmt(x)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 32}" text-anchor="middle" font-size="12" {FONT}>'
               f'{escape(x_label)}</text>')
    out.append(f'<text transform="translate(16 {top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" '
               f'{FONT}>{escape(y_label)}</text>')
    if hline is not None:
        y = py(hline[0])
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d62728" '
                   'stroke-width="1.5" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + pw - 4}" y="{y - 5:.1f}" text-anchor="end" font-size="11" fill="#d62728" '
                   f'{FONT}>{escape(hline[1])}</text>')
    for s in series:
        pts = [(px(x), py(y)) for x, y in zip(s.xs, s.ys) if y is not None]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.color}"/>')
    if mark is not None:
        x, y = px(mark[0]), py(mark[1])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="#000" stroke-width="2"/>')
        anchor = "end" if x > left + pw * 0.7 else "start"
        dx = -10 if anchor == "end" else 10
        out.append(f'<text x="{x + dx:.1f}" y="{y - 10:.1f}" text-anchor="{anchor}" font-size="11" '
                   f'font-weight="bold" {FONT}>{escape(mark[2])}</text>')
    for i, s in enumerate(series):  # legend under the axis label, three per row
        lx, ly = left + (i % 3) * (pw / 3), top + ph + 48 + 18 * (i // 3)
        out.append(f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{s.color}" '
                   'stroke-width="3"/>')
        out.append(f'<text x="{lx + 24:.1f}" y="{ly}" font-size="11" {FONT}>{escape(s.label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], unit: str, *, colors: Sequence[str] | None = None,
              width: int = 560, label_width: int = 240) -> str:
    """Horizontal bars, one per (label, value), the value and its share printed after each."""
    row, top = 22, 34
    height = top + row * len(bars) + 28
    total = sum(v for _, v in bars) or 1.0
    hi = max((v for _, v in bars), default=1.0) or 1.0
    pw = width - label_width - 110
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold" {FONT}>'
           f'{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        color = (colors or PALETTE)[i % len(colors or PALETTE)]
        w = max(value / hi * pw, 0.5)
        out.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" font-size="11" {FONT}>'
                   f'{escape(label)}</text>')
        out.append(f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>')
        out.append(f'<text x="{label_width + w + 6:.1f}" y="{y + 14}" font-size="11" {FONT}>'
                   f'{_fmt_value(value)} {escape(unit)} ({100 * value / total:.0f}%)</text>')
    axis_y = top + row * len(bars) + 4
    out.append(f'<line x1="{label_width}" x2="{label_width}" y1="{top}" y2="{axis_y}" stroke="#333"/>')
    out.append("</svg>")
    return "\n".join(out)
