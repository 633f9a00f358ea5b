"""The latency view: per-hop percentiles (the engine's `latency_df`) and a histogram per hop.

Static on purpose: it is a measurement of the orders so far; run `%oms latency` again for a
fresh one. `latency_samples` (the engine's) is pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.orders import Order
from ..engine.views import latency_samples
from .charts import histogram_svg

PLOTTED = ("risk_to_wire_us", "wire_to_ack_us", "signal_to_done_us")


def latency_html(orders: Iterable[Order], hops: Iterable[str] = PLOTTED) -> str:
    samples = latency_samples(orders)
    return (
        '<div class="nbx-latency" style="display:flex;flex-wrap:wrap;gap:12px">'
        + "".join(histogram_svg(samples[hop], title=hop.removesuffix("_us")) for hop in hops)
        + "</div>"
    )
