"""Kite's instruments dump parsed into Instruments; fetched once a day through the disk cache."""

from __future__ import annotations

from datetime import date

import pytest

from nbexec.brokers.kite.adapter import KiteBroker
from nbexec.brokers.kite.instruments import parse_instruments
from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from tests.brokers.adapter_helpers import kite_config

CSV = """instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
408065,1594,INFY,INFOSYS,0.0,,0.0,0.05,1,EQ,NSE,NSE
256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.0,0,EQ,INDICES,NSE
13238786,51714,NIFTY26DECFUT,NIFTY,0.0,2026-12-31,0.0,0.05,75,FUT,NFO-FUT,NFO
1234567,4822,GOLDM,GOLD,0.0,,0.0,1.0,10,FUT,NCO,NCO
999,1594,BROKEN,BROKEN,0.0,,0.0,0.05,1,EQ,NSE,NSE
"""  # noqa: E501 - Kite's CSV header, verbatim


def test_rows_become_instruments_with_kites_identity():
    infy, nifty, fut = parse_instruments(CSV)
    assert (infy.key, infy.kite_token, infy.tick_size, infy.lot_size) == ("NSE:INFY", 408065, 0.05, 1)
    assert (nifty.key, nifty.kite_token, nifty.tradable) == ("INDICES:NIFTY 50", 256265, False)
    assert (fut.key, fut.lot_size, fut.instrument_type) == ("NFO:NIFTY26DECFUT", 75, "FUT")


def test_a_dump_without_the_needed_columns_is_refused():
    with pytest.raises(ValidationError):
        parse_instruments("a,b\n1,2\n")


async def test_the_paper_dump_is_fetched_once_per_day_and_cached(make_paper_exchange, tmp_path):
    x = await make_paper_exchange(tick_rate=0, rate_limits=False)
    broker = KiteBroker(kite_config(x))
    await broker.start()
    try:
        first = await broker.instruments(cache_dir=tmp_path)
        catalog = Catalog(first)
        assert catalog["NSE:INFY"].kite_token == 408065 and catalog.by_kite_token(256265).symbol == "NIFTY 50"
        assert len(first) == len(x.engine.instruments)
        [cached] = tmp_path.glob("kite-instruments-*.csv")
        await x.close()  # the cache answers without the exchange
        again = await broker.instruments(cache_dir=tmp_path)
        assert again == first
        (tmp_path / cached.name).rename(tmp_path / f"kite-instruments-{date(2020, 1, 1)}.csv")
        stale = await broker.instruments(cache_dir=tmp_path)  # fetch fails: yesterday's file is used
        assert stale == first
    finally:
        await broker.close()
