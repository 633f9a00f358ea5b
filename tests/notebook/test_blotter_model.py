"""The blotter's data logic, with plain values: notifications in, rows and HTML out."""

from __future__ import annotations

import json

from nbexec.core.orders import Order
from nbexec.notebook.blotter_model import BlotterModel


def created(order_id="o1", account="A1", version=3, status="SENT", **fields):
    body = {
        "order_id": order_id,
        "account": account,
        "instrument": "NSE:INFY",
        "side": "BUY",
        "quantity": "10",
        "order_type": "MARKET",
        "price": "0.0",
        "status": status,
        "version": str(version),
        "filled_quantity": "0",
        "average_price": "0.0",
        "created_at_ns": "1700000000000000000",
        **fields,
    }
    return {
        "order_id": order_id,
        "account": account,
        "version": str(version),
        "status": status,
        "changes": json.dumps(body),
    }


def moved(order_id="o1", account="A1", version=4, status="ACKED", **changes):
    return {
        "order_id": order_id,
        "account": account,
        "version": str(version),
        "status": status,
        "changes": json.dumps({"status": status, "version": str(version), **changes}),
    }


def test_a_created_order_becomes_a_typed_row():
    model = BlotterModel()
    assert model.apply(created())
    row = model.rows_by_id["o1"]
    assert row["quantity"] == 10 and row["price"] == 0.0 and row["version"] == 3 and row["status"] == "SENT"
    assert model.incomplete == []


def test_later_changes_update_the_row():
    model = BlotterModel()
    model.apply(created())
    model.apply(moved(version=4, status="ACKED"))
    model.apply(moved(version=5, status="FILLED", filled_quantity="10", average_price="1500.25"))
    row = model.rows_by_id["o1"]
    assert (row["status"], row["filled_quantity"], row["average_price"]) == ("FILLED", 10, 1500.25)


def test_an_older_notification_never_undoes_a_newer_one():
    model = BlotterModel()
    model.apply(created())
    model.apply(moved(version=5, status="FILLED"))
    assert not model.apply(moved(version=4, status="ACKED"))
    assert model.rows_by_id["o1"]["status"] == "FILLED"


def test_a_late_creation_only_fills_in_missing_details():
    model = BlotterModel()
    model.apply(moved(version=5, status="FILLED"))
    assert model.incomplete == [("A1", "o1")]
    assert model.apply(created(version=3, status="SENT"))
    row = model.rows_by_id["o1"]
    assert row["status"] == "FILLED" and row["instrument"] == "NSE:INFY" and model.incomplete == []


def test_malformed_notifications_are_ignored():
    model = BlotterModel()
    for note in (
        {},
        {"order_id": "x"},
        {"order_id": "x", "version": "v"},
        {"order_id": "x", "version": 1, "changes": "{not json"},
    ):
        assert not model.apply(note)
    assert model.rows_by_id == {}


def test_rows_put_the_most_recently_changed_first():
    model = BlotterModel()
    model.apply(created("o1"))
    model.apply(created("o2", account="A2"))
    model.apply(moved("o1", version=4))
    assert [r["order_id"] for r in model.rows()] == ["o1", "o2"]
    assert model.counts() == {"ACKED": 1, "SENT": 1}


def test_seeding_from_engine_orders():
    order = Order(
        order_id="abc123",
        signal_id="s1",
        account="A1",
        instrument="NSE:INFY",
        side="SELL",
        quantity=5,
        order_type="LIMIT",
        price=1500.0,
        version=2,
    )
    model = BlotterModel()
    model.seed([order])
    row = model.rows_by_id["abc123"]
    assert (row["side"], row["order_type"], row["status"], row["price"]) == ("SELL", "LIMIT", "NEW", 1500.0)
    assert list(model.df.index) == ["abc123"]


def test_html_escapes_values_and_counts_statuses():
    model = BlotterModel()
    model.apply(created(reject_reason="<script>alert(1)</script>", status="REJECTED"))
    page = model.html()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>1 orders</b> REJECTED 1" in page and 'class="nbx-rejected"' in page


def test_html_shows_the_newest_rows_and_how_many_are_hidden():
    model = BlotterModel()
    for i in range(5):
        model.apply(created(f"o{i}"))
    page = model.html(limit=2)
    assert page.count("<tr class=") == 2 and "and 3 older" in page
