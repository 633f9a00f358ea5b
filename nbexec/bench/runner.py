"""Runs the scenarios one after another, each in a fresh event loop, and records the machine."""

from __future__ import annotations

import asyncio
import importlib
import os
import platform
import time
from collections.abc import Callable

# JSON key -> module with `async def run(quick: bool) -> dict`. A module that measures several
# keys in one session (one engine start) lists them in `KEYS` and has
# `async def run(quick: bool, keys: tuple[str, ...]) -> {key: dict}`; it runs once for all of them.
SCENARIOS: dict[str, str] = {
    "tick_decode": "nbexec.bench.tick_decode",
    "order_rtt": "nbexec.bench.order_rtt",
    "fanout_50": "nbexec.bench.engine_latency",
    "wire_to_wire_1": "nbexec.bench.engine_latency",
    "wire_to_wire_50": "nbexec.bench.engine_latency",
    "store_transition": "nbexec.bench.store_transition",
    "kernel_responsiveness": "nbexec.bench.kernel_responsiveness",
    "order_transport": "nbexec.bench.order_transport",
    "memory": "nbexec.bench.order_memory",
    "paper_load": "nbexec.bench.paper_load",
}


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": platform.processor(),
    }


def run_all(names: list[str], *, quick: bool, progress: Callable[[str], None] = lambda _: None) -> dict:
    results: dict = {"machine": machine(), "quick": quick, "load_average_before": os.getloadavg()}
    for name in names:
        if name in results:
            continue
        module = importlib.import_module(SCENARIOS[name])
        keys = tuple(n for n in names if SCENARIOS[n] == SCENARIOS[name]) if hasattr(module, "KEYS") else (name,)
        progress(f"running {', '.join(keys)} ...")
        load = os.getloadavg()[0]  # the machine is shared: every figure says how busy it was
        started = time.perf_counter()
        if hasattr(module, "KEYS"):
            results.update(asyncio.run(module.run(quick, keys)))
        else:
            results[name] = asyncio.run(module.run(quick))
        total = round(time.perf_counter() - started, 2)
        for key in keys:  # a shared session's keys keep their own measuring time, and say the session's
            results[key].setdefault("seconds", total)
            results[key].setdefault("load_average_1m_before", load)
            if len(keys) > 1:
                results[key]["session_seconds"] = total
    results["load_average_after"] = os.getloadavg()
    return results


def _rows(prefix: str, value) -> list[tuple[str, str]]:
    if isinstance(value, dict) and "p50" in value:
        unit = value.get("unit", "")
        return [(prefix, f"p50 {value['p50']:,.1f} {unit}  p99 {value['p99']:,.1f} {unit}  (n={value['samples']})")]
    if isinstance(value, dict):
        return [row for key, sub in value.items() for row in _rows(f"{prefix}.{key}" if prefix else key, sub)]
    if isinstance(value, float):
        return [(prefix, f"{value:,.2f}")]
    return [(prefix, str(value))]


def format_table(results: dict) -> str:
    rows = _rows("", results)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
