"""Runs the scenarios one after another, each in a fresh event loop, and records the machine."""

from __future__ import annotations

import asyncio
import importlib
import os
import platform
import time
from typing import Callable

# JSON key -> module with `async def run(quick: bool) -> dict`
SCENARIOS: dict[str, str] = {
    "tick_decode": "nbexec.bench.tick_decode",
    "store_transition": "nbexec.bench.store_transition",
    "order_transport": "nbexec.bench.order_transport",
    "memory": "nbexec.bench.ring_memory",
    "paper_load": "nbexec.bench.paper_load",
}


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": f"{platform.system()} {platform.machine()}", "processor": platform.processor()}


def run_all(names: list[str], *, quick: bool, progress: Callable[[str], None] = lambda _: None) -> dict:
    results: dict = {"machine": machine(), "quick": quick}
    for name in names:
        progress(f"running {name} ...")
        started = time.perf_counter()
        module = importlib.import_module(SCENARIOS[name])
        results[name] = asyncio.run(module.run(quick))
        results[name]["seconds"] = round(time.perf_counter() - started, 2)
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
