"""The pure parts of the widgets and magics: charts, ticket, progress, prices, positions, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbexec.core.errors import ValidationError
from nbexec.core.orders import Order
from nbexec.engine.config import EngineConfig
from nbexec.engine.fanout import FanOut
from nbexec.notebook.charts import histogram, histogram_svg, sparkline_svg
from nbexec.notebook.killswitch import kill_label
from nbexec.notebook.latency import latency_html, latency_samples
from nbexec.notebook.magics import order_arguments
from nbexec.notebook.positions import positions_html
from nbexec.notebook.prices import PriceHistory, tile_html
from nbexec.notebook.progress import summarize
from nbexec.notebook.session import engine_config
from nbexec.notebook.ticket import ticket_order


def order(account="A1", status="NEW", **fields) -> Order:
    return Order(
        order_id=f"x{account}",
        signal_id="s1",
        account=account,
        instrument="NSE:INFY",
        side="BUY",
        quantity=10,
        status=status,
        **fields,
    )


# -- charts -----------------------------------------------------------------------------------
def test_sparkline_spans_the_box():
    svg = sparkline_svg([1.0, 3.0, 2.0], width=100, height=20)
    points = svg.split('points="')[1].split('"')[0].split()
    assert points == ["1.0,18.0", "50.0,2.0", "99.0,10.0"]


def test_sparkline_of_a_flat_or_empty_series():
    assert 'points="1.0,18.0 99.0,18.0"' in sparkline_svg([5.0, 5.0], width=100, height=36)
    assert "<polyline" not in sparkline_svg([])


def test_histogram_uses_log_bins_for_wide_ranges_and_skips_non_positive_values():
    counts, edges = histogram([10, 100, 1000, 10_000, 0, -1, None, float("nan")], bins=3)
    assert counts.tolist() == [1, 1, 2]
    assert np.allclose(edges, [10, 100, 1000, 10_000])


def test_histogram_uses_linear_bins_for_narrow_ranges_and_one_bin_for_one_value():
    counts, edges = histogram([10, 12, 14, 16, 18, 20], bins=2)
    assert counts.tolist() == [3, 3] and np.allclose(edges, [10, 15, 20])
    counts, edges = histogram([7, 7, 7])
    assert counts.tolist() == [3] and edges.tolist() == [7, 7]


def test_histogram_svg_captions_range_and_median():
    svg = histogram_svg([100, 200, 300], title="wire_to_ack")
    assert "wire_to_ack: n=3, 100-300 us, median 200 us" in svg and svg.count("<rect") == 20
    assert "no samples" in histogram_svg([], title="x")


# -- latency ------------------------------------------------------------------------------------
def test_latency_samples_per_hop_skip_hops_not_reached():
    done = order("A1", ts_signal=1_000, ts_risk_passed=3_000, ts_sent=7_000)
    samples = latency_samples([done, order("A2")])
    assert samples["signal_to_risk_us"] == [2.0] and samples["risk_to_wire_us"] == [4.0]
    assert samples["wire_to_ack_us"] == []
    assert latency_html([done]).count("<svg") == 1


# -- ticket --------------------------------------------------------------------------------------
def test_ticket_without_price_is_a_market_order_for_all():
    assert ticket_order("NSE:INFY", "BUY", 10, 0.0, "all") == {
        "symbol": "NSE:INFY",
        "side": "BUY",
        "qty": 10,
        "accounts": "all",
    }


def test_ticket_with_price_is_a_limit_order_for_listed_accounts():
    assert ticket_order("NSE:INFY", "SELL", 3, 1500.5, " A1, A2 ") == {
        "symbol": "NSE:INFY",
        "side": "SELL",
        "qty": 3,
        "accounts": ["A1", "A2"],
        "order_type": "LIMIT",
        "price": 1500.5,
    }


@pytest.mark.parametrize(
    "args,field",
    [
        (("NSE:INFY", "HOLD", 1, 0.0, "all"), "side"),
        (("NSE:INFY", "BUY", 0, 0.0, "all"), "quantity"),
        (("NSE:INFY", "BUY", 1, -1.0, "all"), "price"),
        (("NSE:INFY", "BUY", 1, 0.0, " , "), "accounts"),
        (("NSE:INFY", "BUY", 1, 0.0, "a;b"), "accounts"),
    ],
)
def test_ticket_refuses_bad_fields_naming_them(args, field):
    with pytest.raises(ValidationError) as err:
        ticket_order(*args)
    assert err.value.field == field


# -- magics' argument mapping -----------------------------------------------------------------------
def test_order_arguments_map_the_grammar_to_fire():
    assert order_arguments({"accounts": "all"}) == {"accounts": "all", "order_type": "MARKET"}
    assert order_arguments(
        {"accounts": ["A1"], "limit": 10.5, "tag": "s9", "product": "CNC", "max_slippage_bps": 20.0}
    ) == {
        "accounts": ["A1"],
        "order_type": "LIMIT",
        "price": 10.5,
        "signal_id": "s9",
        "product": "CNC",
        "max_slippage_bps": 20.0,
    }
    assert order_arguments({"order_type": "SL", "limit": 9.0, "trigger": 9.5})["trigger_price"] == 9.5


def test_engine_config_from_start_options():
    assert engine_config(None, None) == EngineConfig.paper_default()
    assert engine_config(None, 50).paper.accounts == 50
    given = EngineConfig.paper_default(accounts=2)
    assert engine_config(given, None) is given
    with pytest.raises(ValidationError, match="with --config"):
        engine_config("x.toml", 3)
    with pytest.raises(ValidationError, match="1..1000"):
        engine_config(None, 100_000)


# -- progress -------------------------------------------------------------------------------------
async def test_progress_counts_final_orders_and_failures():
    fanout = FanOut("s1", "NSE:INFY", "BUY")
    for account, status in (("A1", "FILLED"), ("A2", "ACKED"), ("A3", "REJECTED")):
        fanout.update(order(account, status))
    fanout.skipped["A4"] = "zero lots"
    p = summarize(fanout)
    assert (p.total, p.final, p.failed, p.done, p.bar_style) == (3, 2, 1, False, "danger")
    assert p.text == "ACKED 1, FILLED 1, REJECTED 1 (1 skipped)"


async def test_progress_of_a_basket_is_done_when_every_order_is_final():
    fanouts = [FanOut(f"s{i}", "NSE:INFY", "BUY") for i in range(2)]
    fanouts[0].update(order("A1", "FILLED"))
    fanouts[1].update(order("A2", "CANCELLED"))
    p = summarize(fanouts)
    assert p.done and p.bar_style == "success" and p.total == 2
    assert summarize([]).text == "no orders"


# -- prices -----------------------------------------------------------------------------------------
def test_price_history_keeps_each_tick_once_and_a_bounded_window():
    history = PriceHistory(maxlen=3)
    assert history.add(10.0, 1) and not history.add(10.0, 1)
    for stamp, price in ((2, 11.0), (3, 12.0), (4, 13.0)):
        history.add(price, stamp)
    assert list(history.prices) == [11.0, 12.0, 13.0]


def test_price_tile_shows_last_change_and_quote():
    history = PriceHistory()
    assert "waiting for the first tick" in tile_html("NSE:INFY", history)
    history.add(100.0, 1)
    history.add(101.0, 2)
    tile = tile_html("NSE:INFY", history, bid=100.95, ask=101.05)
    assert "101.00" in tile and "+1.00%" in tile and "100.95 / 101.05" in tile and "<svg" in tile


# -- positions and the kill switch -----------------------------------------------------------------------
def test_positions_html_totals_realised_and_unrealised():
    df = pd.DataFrame(
        [
            {
                "account": "A1",
                "instrument": "NSE:INFY",
                "quantity": 10,
                "buy_price": 100.0,
                "sell_price": 0.0,
                "last_price": 101.0,
                "realised_pnl": 5.0,
                "unrealised_pnl": 10.0,
            },
            {
                "account": "A2",
                "instrument": "NSE:INFY",
                "quantity": 0,
                "buy_price": 0.0,
                "sell_price": 0.0,
                "last_price": None,
                "realised_pnl": -2.0,
                "unrealised_pnl": None,
            },
        ]
    )
    page = positions_html(df)
    assert "P&amp;L" in page and "13.00" in page and "(realised 3.00, unrealised 10.00)" in page
    assert "none yet" in positions_html(pd.DataFrame())


def test_kill_label_follows_the_switch():
    assert kill_label(True)[1] == "danger" and "KILLED" in kill_label(True)[0]
    assert kill_label(False)[1] == "warning"
