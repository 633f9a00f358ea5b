"""`make demo` runs the quickstart in a real kernel, writes it out executed and summarises it."""

from __future__ import annotations

import nbformat
import pytest

from nbexec.notebook.demo import main

pytestmark = [pytest.mark.slow, pytest.mark.process]  # a kernel, a paper exchange, a Redis


def test_demo_writes_the_executed_quickstart_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "executed.ipynb"
    assert main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "orders:    FILLED 5" in printed and "fills:     5, 50 units at" in printed
    assert "signal_to_done_us" in printed and "p99" in printed and f"executed notebook: {out}" in printed
    nb = nbformat.read(out, as_version=4)
    assert all(not c.get("outputs") or not any(o.output_type == "error" for o in c.outputs) for c in nb.cells)
    assert "probe(" not in "".join(c.source for c in nb.cells)
