"""`nbexec bench --quick --json FILE` writes every figure of the scenarios listed below, each with
its sample count.

Shape only: which keys, positive numbers, counts. How fast anything is belongs in the bench's
own output, never in an assert here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from nbexec.bench.runner import SCENARIOS

pytestmark = pytest.mark.process  # runs `nbexec bench` as a process

ISSUE_8 = (
    "tick_decode",
    "order_rtt",
    "fanout_50",
    "wire_to_wire_1",
    "wire_to_wire_50",
    "store_transition",
    "kernel_responsiveness",
    "memory",
)
COUNT_KEYS = ("samples", "runs", "ticks", "orders")


def _walk(value, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _walk(sub, f"{path}.{key}" if path else key)
    else:
        yield path, value


def _summaries(value, path: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(value, dict):
        if "p50" in value:
            yield path, value
            return
        for key, sub in value.items():
            yield from _summaries(sub, f"{path}.{key}" if path else key)


def _is_count(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1]
    return leaf in COUNT_KEYS or leaf.endswith("_samples")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    keys = list(ISSUE_8)
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "nbexec.cli.main", "bench", "--quick", "--json", str(out), *keys],
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def test_every_issue_8_scenario_is_registered():
    assert set(ISSUE_8) <= set(SCENARIOS)


def test_the_json_names_the_machine(results):
    assert results["machine"]["cpu_count"] >= 1
    assert results["machine"]["python"]
    assert results["quick"] is True
    assert len(results["load_average_before"]) == 3


@pytest.mark.parametrize("key", ISSUE_8)
def test_each_scenario_has_positive_figures_with_sample_counts(results, key):
    scenario = results[key]
    assert scenario["seconds"] > 0
    counts = [(p, v) for p, v in _walk(scenario) if _is_count(p)]
    assert counts, f"{key}: no sample count"
    assert all(isinstance(v, int) and v > 0 for _, v in counts), counts
    for path, row in _summaries(scenario):
        assert row["samples"] > 0, path
        assert row["p50"] > 0 and row["p99"] > 0, (path, row)


def test_latency_scenarios_compare_with_the_official_sdk(results):
    for key in ("fanout_50", "wire_to_wire_1", "wire_to_wire_50"):
        ratios = [row for path, row in _summaries(results[key]) if path.startswith("official_over_nbexec")]
        assert ratios and all(r["p50"] > 0 and r["samples"] > 0 for r in ratios), key
