"""Every notebook in notebooks/ runs top to bottom in a real kernel and shows what it promises.

Each one is executed by nbclient in a fresh python3 kernel against its own paper exchange and
Redis; a probe cell then reads the engine's state in the same kernel, and the assertions are on
the notebook's outputs and that state (orders filled, tables' shapes and values).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from .kernels import NOTEBOOKS, cell_outputs, execute_notebook, paper_tokens, text_of, widget_values

TESTED = {"quickstart.ipynb", "fanout.ipynb", "research_to_live.ipynb", "recovery.ipynb"}

pytestmark = pytest.mark.slow


def assert_no_secrets(nb: nbformat.NotebookNode, data_dir) -> None:
    shown = nbformat.writes(nb)
    leaked = [t for t in paper_tokens(data_dir) if t in shown]
    assert not leaked, "a paper credential is in the executed notebook"


def test_every_notebook_has_a_test():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == TESTED


@pytest.mark.parametrize("name", sorted(TESTED))
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source
    assert "widgets" not in nb.metadata


def test_quickstart_streams_ticks_fills_one_signal_and_shows_the_blotter(data_dir):
    nb, facts = execute_notebook(
        "quickstart.ipynb",
        data_dir,
        probe="""
orders = oms.orders_df()
probe(orders=len(orders), statuses=sorted(set(orders.status)), filled=int(orders.filled.sum()),
      fills=len(oms.fills_df()), positions=oms.positions_df()[["account", "quantity"]].values.tolist(),
      tick_columns=list(ticks.columns), ticks=len(ticks), latency_hops=list(oms.latency_df().index),
      latency_counts=oms.latency_df()["count"].tolist())
""",
    )
    assert_no_secrets(nb, data_dir)
    assert "nbexec engine started: paper exchange, 5 accounts" in text_of(cell_outputs(nb, "%oms start"))
    assert facts["ticks"] > 10 and {"instrument", "last_price", "bid", "ask"} <= set(facts["tick_columns"])
    assert facts == {**facts, "orders": 5, "statuses": ["FILLED"], "filled": 50}
    assert facts["fills"] >= 5  # one or more per order: a level can run out mid-order
    assert sorted(facts["positions"]) == [[f"PA000{i}", 10] for i in range(1, 6)]
    assert facts["latency_hops"][:3] == ["signal_to_risk_us", "risk_to_wire_us", "wire_to_ack_us"]
    assert facts["latency_counts"] == [5.0] * 5
    fanout_table = text_of(cell_outputs(nb, "await fanout.done"))
    assert fanout_table.count("FILLED") == 5
    blotters = [v for v in widget_values(nb) if "nbx-blotter" in v]
    assert blotters and re.search(r"<b>5 orders</b> FILLED 5", blotters[-1])
    assert any("nbx-tile" in v and "NSE:INFY" in v for v in widget_values(nb))
    assert "wire_to_ack" in "".join(o.get("data", {}).get("text/html", "") for o in cell_outputs(nb, "%oms latency"))


def test_fanout_sends_one_signal_to_fifty_accounts(data_dir):
    nb, facts = execute_notebook(
        "fanout.ipynb",
        data_dir,
        timeout=180,
        probe="""
probe(accounts=len(oms.accounts), counts=fanout.counts, table_shape=list(table.shape),
      table_counts=table["count"].tolist(), p50_positive=bool((table["50%"] > 0).all()),
      covered=covered.counts, covered_signal=covered.signal_id == armed.signal_id,
      net=sorted(set(oms.positions_df().quantity)))
""",
    )
    assert_no_secrets(nb, data_dir)
    assert "50 accounts" in text_of(cell_outputs(nb, "%oms start --accounts 50"))
    assert facts["accounts"] == 50 and facts["counts"] == {"FILLED": 50}
    assert facts["table_shape"] == [5, 6] and facts["table_counts"] == [50.0] * 5 and facts["p50_positive"]
    assert facts["covered"] == {"FILLED": 50} and facts["covered_signal"]  # the armed buy-back
    assert facts["net"] == [0]  # sold 10 and bought 10 back in every account
    assert "NSE:RELIANCE" in text_of(cell_outputs(nb, "%oms positions"))
    assert "first request written" in text_of(cell_outputs(nb, "wire = "))
    histograms = "".join(o.get("data", {}).get("text/html", "") for o in cell_outputs(nb, "%oms latency"))
    assert histograms.count("<svg") == 3 and "n=50" in histograms


def test_research_to_live_trades_the_researched_rule_and_ends_flat(data_dir):
    nb, facts = execute_notebook(
        "research_to_live.ipynb",
        data_dir,
        timeout=180,
        probe="""
orders = oms.orders_df()
probe(recorded=len(recorded), research_columns=list(research.columns), summary=summary.to_dict(),
      steps=len(live), orders=len(orders), statuses=sorted(set(orders.status)),
      positions=sorted(set(oms.positions_df().quantity)), fills=len(oms.fills_df()),
      ordered=orders.quantity.to_dict(), filled=oms.fills_df().groupby("order_id").quantity.sum().to_dict())
""",
    )
    assert_no_secrets(nb, data_dir)
    assert facts["recorded"] >= 40  # 8 s of a 10 Hz feed
    assert facts["research_columns"] == ["price", "position", "pnl"] and facts["summary"]["ticks"] == facts["recorded"]
    assert facts["steps"] == 6 and facts["orders"] > 0 and facts["statuses"] == ["FILLED"]
    # every order filled in full by its fills (a large one may fill in parts), and flat at the end
    assert facts["filled"] == facts["ordered"] and facts["fills"] >= facts["orders"]
    assert facts["positions"] == [0]


def test_recovery_reconciles_changes_made_while_the_engine_was_down(data_dir):
    nb, facts = execute_notebook(
        "recovery.ipynb",
        data_dir,
        probe="""
probe(report=repr(oms.recovery), updated=oms.recovery.updated, compare=compare.to_dict("index"),
      positions_equal=bool(oms.positions_df()[["account", "instrument", "quantity"]].equals(positions_before)))
""",
    )
    assert_no_secrets(nb, data_dir)
    assert facts["report"] == "<RecoveryReport adopted 0, sent 0, refused 0, updated 5, unchanged 0, errors 0>"
    assert sorted(u[1:] for u in facts["updated"]) == [["ACKED", "CANCELLED"]] * 5
    statuses = sorted((v["status"], v["status_after"]) for v in facts["compare"].values())
    assert statuses == [("ACKED", "CANCELLED")] * 5 + [("FILLED", "FILLED")] * 5
    assert facts["positions_equal"]
    assert text_of(cell_outputs(nb, "oms.positions_df()")).strip() == "True"
