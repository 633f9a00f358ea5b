"""The broker-neutral instrument catalog: one hash probe per lookup, either broker's ids."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nbexec.core.catalog import Catalog
from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument

INFY = Instrument("NSE", "INFY", 1594, tick_size=0.05, lot_size=1)
NIFTY = Instrument("INDICES", "NIFTY 50", 1001, dhan_security_id=13)
FUT = Instrument("NFO", "NIFTY26DECFUT", 51714, lot_size=75)


def test_lookups_by_name_kite_token_and_dhan_security_id():
    c = Catalog([INFY, NIFTY, FUT])
    assert c["NSE:INFY"] is INFY and c.by_kite_token(408065) is INFY
    assert c.by_security_id("IDX_I", 13) is NIFTY and c.by_security_id("NSE_FNO", "51714") is FUT
    assert (c.tick_size("NSE:INFY"), c.lot_size("NFO:NIFTY26DECFUT")) == (0.05, 75)


def test_an_unknown_name_names_the_field():
    with pytest.raises(ValidationError) as err:
        Catalog([INFY])["NSE:TCS"]
    assert err.value.field == "instrument"


def test_replacing_an_instrument_drops_its_old_ids():
    c = Catalog([INFY])
    c.add(replace(INFY, dhan_security_id=99))
    assert c.by_security_id("NSE_EQ", 1594) is None and c.by_security_id("NSE_EQ", 99).key == "NSE:INFY"
    assert len(c) == 1 and list(c) == [replace(INFY, dhan_security_id=99)]


def test_an_instruments_key_follows_its_exchange_and_symbol():
    assert (INFY.key, replace(INFY, symbol="TCS").key, NIFTY.key) == ("NSE:INFY", "NSE:TCS", "INDICES:NIFTY 50")
    assert "key" not in repr(INFY) and replace(INFY) == INFY and hash(replace(INFY)) == hash(INFY)
