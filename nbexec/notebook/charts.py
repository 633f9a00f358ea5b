"""Small charts as SVG text: a price sparkline and a latency histogram. Pure, no matplotlib.

SVG in an `ipywidgets.HTML` renders in JupyterLab, Voila and a saved notebook alike, and a
redraw is one string, cheap enough to send several times a second.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np


def sparkline_svg(values: Sequence[float], width: int = 160, height: int = 36) -> str:
    """A line through `values` (oldest first), scaled to fill the box; flat when constant."""
    if len(values) == 0:
        return f'<svg class="nbx-spark" width="{width}" height="{height}"></svg>'
    y = np.asarray(values, dtype=float)
    low, high = float(y.min()), float(y.max())
    span = high - low or 1.0
    xs = np.linspace(1, width - 1, len(y)) if len(y) > 1 else np.array([width / 2])
    ys = height - 2 - (y - low) / span * (height - 4) if high > low else np.full(len(y), height / 2)
    points = " ".join(f"{x:.1f},{v:.1f}" for x, v in zip(xs, ys, strict=True))
    return (
        f'<svg class="nbx-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>'
    )


def histogram(values: Sequence[float], bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of positive `values`; log-spaced bins when they span more than 20x."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x) and x > 0], dtype=float)
    if len(v) == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    low, high = float(v.min()), float(v.max())
    if high <= low:
        return np.array([len(v)]), np.array([low, high])
    edges = np.geomspace(low, high, bins + 1) if high / low > 20 else np.linspace(low, high, bins + 1)
    counts, edges = np.histogram(v, edges)
    return counts, edges


def histogram_svg(
    values: Sequence[float], *, title: str = "", unit: str = "us", bins: int = 20, width: int = 320, height: int = 120
) -> str:
    """A bar chart of `histogram(values)` with the range and the median in the caption."""
    counts, edges = histogram(values, bins)
    caption = html.escape(title)
    if len(counts) == 0:
        return f'<div class="nbx-hist"><div>{caption}: no samples</div></div>'
    top = max(int(counts.max()), 1)
    bar_w = (width - 2) / len(counts)
    bars = "".join(
        f'<rect x="{1 + i * bar_w:.1f}" y="{height - c / top * (height - 2):.1f}" width="{max(bar_w - 1, 1):.1f}" '
        f'height="{c / top * (height - 2):.1f}" fill="steelblue"><title>{edges[i]:,.0f}-{edges[i + 1]:,.0f} {unit}: '
        f"{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    median = float(np.median([x for x in values if x is not None and math.isfinite(x) and x > 0]))
    return (
        f'<div class="nbx-hist"><div>{caption}: n={int(counts.sum())}, {edges[0]:,.0f}-{edges[-1]:,.0f} {unit}, '
        f'median {median:,.0f} {unit}</div><svg width="{width}" height="{height}">{bars}</svg></div>'
    )
