import json
import os
import re
import subprocess
import sys

import pytest

from nbexec import __version__

pytestmark = pytest.mark.process  # runs the `nbexec` command


def nbexec(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "nbexec.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version():
    out = nbexec("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"nbexec {__version__}"


def test_doctor_reports_the_redis_in_use_without_its_password(redis_url):
    out = nbexec("doctor", env={"NBEXEC_REDIS_URL": redis_url})
    assert out.returncode == 0, out.stderr
    assert re.search(r"^redis source +NBEXEC_REDIS_URL$", out.stdout, re.M)  # (columns fit the longest name)
    assert "reachable" in out.stdout


def test_doctor_fails_clearly_when_redis_is_unreachable():
    out = nbexec("doctor", env={"NBEXEC_REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"})
    assert out.returncode == 1
    assert "UNREACHABLE" in out.stdout and "s3cret" not in out.stdout + out.stderr


def test_bench_store_writes_json_with_positive_figures(tmp_path):
    path = tmp_path / "bench.json"
    out = nbexec("bench", "--quick", "store_transition", "--json", str(path))
    assert out.returncode == 0, out.stderr
    data = json.loads(path.read_text())
    assert data["machine"]["cpu_count"] >= 1
    s = data["store_transition"]
    assert s["script_one_round_trip"]["p50"] > 0 and s["script_one_round_trip"]["samples"] > 0
    assert s["naive_hset_then_publish"]["p99"] > 0
    assert s["pipelined_transitions_per_s"] > 0
