"""The official `kiteconnect` SDK, unchanged, against the paper exchange's Kite REST front end."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

INFY = 408065


@pytest.fixture
async def x(make_paper_exchange):
    """An exchange whose market moves only when a test steps it, and with no rate limits."""
    return await make_paper_exchange(tick_rate=0, rate_limits=False, seed=3)


def client(x, i: int = 0) -> KiteConnect:
    a = x.accounts[i]
    return KiteConnect(api_key=a.kite_api_key, access_token=a.kite_access_token, root=x.base_url)


def place(kc: KiteConnect, **kw) -> str:
    args = dict(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=1,
        product="MIS",
        order_type="MARKET",
    )
    args.update(kw)
    return kc.place_order(**args)


async def sdk(fn, *args, **kw):
    return await asyncio.to_thread(fn, *args, **kw)


async def test_generate_session_exchanges_the_request_token_with_its_checksum(x):
    a = x.accounts[0]
    kc = KiteConnect(api_key=a.kite_api_key, root=x.base_url)
    session = await sdk(kc.generate_session, "any-request-token", api_secret=a.kite_api_secret)
    assert session["access_token"] == a.kite_access_token and session["user_id"] == a.id
    assert (await sdk(kc.profile))["user_id"] == a.id


async def test_a_wrong_secret_gives_a_token_exception(x):
    kc = KiteConnect(api_key=x.accounts[0].kite_api_key, root=x.base_url)
    with pytest.raises(kex.TokenException):
        await sdk(kc.generate_session, "rt", api_secret="not-the-secret")


async def test_a_bad_access_token_is_403_token_exception(x):
    kc = KiteConnect(api_key=x.accounts[0].kite_api_key, access_token="stale", root=x.base_url)
    with pytest.raises(kex.TokenException) as err:
        await sdk(kc.orders)
    assert err.value.code == 403


async def test_a_market_order_completes_and_appears_in_orders_and_trades(x):
    kc = client(x)
    order_id = await sdk(place, kc, quantity=3)
    orders = await sdk(kc.orders)
    assert [(o["order_id"], o["status"], o["filled_quantity"]) for o in orders] == [(order_id, "COMPLETE", 3)]
    trades = await sdk(kc.order_trades, order_id)
    assert sum(t["quantity"] for t in trades) == 3 and trades[0]["instrument_token"] == INFY


async def test_order_history_shows_the_interim_statuses_oldest_first(x):
    kc = client(x)
    order_id = await sdk(place, kc, order_type="LIMIT", price=1400.0)
    history = await sdk(kc.order_history, order_id)
    assert [h["status"] for h in history] == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN"]
    assert hasattr(history[-1]["order_timestamp"], "year")  # 19-char timestamps parse as datetime


async def test_modify_moves_a_resting_limit_into_the_market(x):
    kc = client(x)
    order_id = await sdk(place, kc, order_type="LIMIT", price=1400.0, quantity=2)
    assert await sdk(kc.modify_order, "regular", order_id, price=1600.0) == order_id
    history = await sdk(kc.order_history, order_id)
    assert [h["status"] for h in history][-4:] == ["MODIFY PENDING", "MODIFIED", "OPEN", "COMPLETE"]
    assert history[-1]["average_price"] <= 1600.0


async def test_cancel_closes_an_open_order(x):
    kc = client(x)
    order_id = await sdk(place, kc, order_type="LIMIT", price=1400.0, quantity=4)
    await sdk(kc.cancel_order, "regular", order_id)
    last = (await sdk(kc.order_history, order_id))[-1]
    assert (last["status"], last["cancelled_quantity"], last["pending_quantity"]) == ("CANCELLED", 4, 0)


async def test_a_stop_loss_order_waits_in_trigger_pending(x):
    kc = client(x)
    order_id = await sdk(place, kc, order_type="SL", price=1700.0, trigger_price=1650.0)
    assert (await sdk(kc.order_history, order_id))[-1]["status"] == "TRIGGER PENDING"


async def test_sl_m_triggers_and_fills_once_the_price_crosses(x):
    kc = client(x)
    ltp = x.engine.quote("NSE:INFY").last_price
    order_id = await sdk(place, kc, transaction_type="SELL", order_type="SL-M", trigger_price=ltp - 0.5)
    for _ in range(5000):
        if x.engine.order(x.accounts[0].id, order_id).status == "COMPLETE":
            break
        x.step()
    statuses = [h["status"] for h in await sdk(kc.order_history, order_id)]
    assert statuses[-3:] == ["TRIGGER PENDING", "OPEN", "COMPLETE"]


async def test_an_ioc_order_larger_than_the_book_fills_what_is_shown_and_cancels_the_rest(x):
    kc = client(x)
    shown = sum(level.quantity for level in x.engine.quote("NSE:INFY").asks)
    order_id = await sdk(place, kc, quantity=shown + 7, validity="IOC")
    last = (await sdk(kc.order_history, order_id))[-1]
    assert (last["status"], last["filled_quantity"], last["cancelled_quantity"]) == ("CANCELLED", shown, 7)


async def test_a_day_order_larger_than_the_book_fills_in_parts(x):
    kc = client(x)
    shown = sum(level.quantity for level in x.engine.quote("NSE:INFY").asks)
    order_id = await sdk(place, kc, quantity=shown + 7)
    assert (await sdk(kc.order_history, order_id))[-1]["filled_quantity"] == shown
    x.step(20)
    assert len(await sdk(kc.order_trades, order_id)) > 5
    assert (await sdk(kc.order_history, order_id))[-1]["status"] == "COMPLETE"


async def test_tag_and_market_protection_travel_with_the_order(x):
    kc = client(x)
    order_id = await sdk(place, kc, tag="sig1acct1", market_protection=2)
    order = (await sdk(kc.orders))[0]
    assert (order["order_id"], order["tag"], order["market_protection"]) == (order_id, "sig1acct1", 2)


async def test_a_bad_field_is_400_input_exception_naming_the_field(x):
    kc = client(x)
    with pytest.raises(kex.InputException) as err:
        await sdk(place, kc, transaction_type="HOLD")
    assert err.value.code == 400 and "`transaction_type`" in str(err.value)


async def test_a_missing_field_is_an_input_exception(x):
    kc = client(x)
    with pytest.raises(kex.InputException) as err:
        await sdk(place, kc, product=None)
    assert "`product`" in str(err.value)


async def test_an_unknown_instrument_is_an_input_exception(x):
    with pytest.raises(kex.InputException) as err:
        await sdk(place, client(x), tradingsymbol="NOSUCH")
    assert "`tradingsymbol`" in str(err.value)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"order_type": "LIMIT", "price": 1500.03}, "tick size"),
        ({"order_type": "LIMIT", "price": 2500.0}, "circuit"),
        ({"quantity": 100_000}, "Insufficient funds"),
    ],
)
async def test_exchange_rejects_are_orders_in_rejected_with_a_message(x, kw, message):
    kc = client(x)
    order_id = await sdk(place, kc, **kw)
    last = (await sdk(kc.order_history, order_id))[-1]
    assert last["status"] == "REJECTED" and message in last["status_message"]


async def test_an_unknown_order_id_is_an_input_exception(x):
    with pytest.raises(kex.InputException):
        await sdk(client(x).cancel_order, "regular", "12345")


async def test_positions_net_and_day_sum_the_fills(x):
    kc = client(x)
    await sdk(place, kc, quantity=5)
    await sdk(place, kc, quantity=2, transaction_type="SELL")
    positions = await sdk(kc.positions)
    for book in ("net", "day"):
        (p,) = positions[book]
        assert (p["tradingsymbol"], p["quantity"], p["buy_quantity"], p["sell_quantity"]) == ("INFY", 3, 5, 2)


async def test_margins_cash_moves_by_the_value_of_the_fills(x):
    kc = client(x)
    before = (await sdk(kc.margins))["equity"]["available"]["cash"]
    order_id = await sdk(place, kc, quantity=4)
    value = sum(t["quantity"] * t["average_price"] for t in await sdk(kc.order_trades, order_id))
    after = await sdk(kc.margins, "equity")
    assert after["available"]["cash"] == pytest.approx(before - value)


async def test_quote_ohlc_and_ltp_are_keyed_by_the_requested_name(x):
    kc = client(x)
    quote = (await sdk(kc.quote, ["NSE:INFY"]))["NSE:INFY"]
    assert quote["instrument_token"] == INFY and len(quote["depth"]["buy"]) == 5
    assert quote["depth"]["sell"][0]["price"] > quote["depth"]["buy"][0]["price"]
    assert quote["lower_circuit_limit"] < quote["last_price"] < quote["upper_circuit_limit"]
    ohlc = await sdk(kc.ohlc, ["NSE:INFY", "NSE:NIFTY 50"])
    assert set(ohlc) == {"NSE:INFY", "NSE:NIFTY 50"} and "open" in ohlc["NSE:INFY"]["ohlc"]
    ltp = await sdk(kc.ltp, ["NSE:NIFTY 50", "NSE:NOSUCH"])
    assert list(ltp) == ["NSE:NIFTY 50"] and ltp["NSE:NIFTY 50"]["instrument_token"] == 256265


async def test_instruments_parse_with_the_sdk_and_carry_kite_tokens(x):
    rows = await sdk(client(x).instruments)
    by_symbol = {r["tradingsymbol"]: r for r in rows}
    assert by_symbol["INFY"]["instrument_token"] == INFY
    assert by_symbol["NIFTY 50"]["segment"] == "INDICES" and by_symbol["NIFTY 50"]["instrument_token"] == 256265
    assert len(await sdk(client(x).instruments, "NSE")) == len(rows)


async def test_instruments_csv_has_kites_header(x):
    import urllib.request

    body = await sdk(lambda: urllib.request.urlopen(f"{x.base_url}/instruments").read().decode())
    assert next(csv.reader(io.StringIO(body)))[:3] == ["instrument_token", "exchange_token", "tradingsymbol"]


async def test_an_unknown_variety_is_405(x):
    with pytest.raises(kex.InputException) as err:
        await sdk(place, client(x), variety="bogus")
    assert err.value.code == 405


async def test_over_the_quote_rate_limit_is_429(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0)  # Kite's quote limit: 1 request/s (docs/protocols/kite.md)
    kc = client(x)
    await sdk(kc.ltp, ["NSE:INFY"])
    with pytest.raises(kex.NetworkException) as err:
        await sdk(kc.ltp, ["NSE:INFY"])
    assert err.value.code == 429


async def test_rate_limits_are_per_access_token(make_paper_exchange):
    x = await make_paper_exchange(tick_rate=0)
    await sdk(client(x, 0).ltp, ["NSE:INFY"])
    assert await sdk(client(x, 1).ltp, ["NSE:INFY"])


async def test_an_unknown_kite_route_is_a_json_error_the_sdk_can_read(x):
    kc = client(x)
    with pytest.raises(kex.GeneralException) as err:
        await sdk(kc._get, "gtt")  # a real Kite route the paper exchange does not serve
    assert err.value.code == 404
