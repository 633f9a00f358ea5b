"""Dhan's compact security list parsed into Instruments and merged with Kite's dump."""

from __future__ import annotations

from nbexec.brokers.dhan.instruments import parse_security_list
from nbexec.core.catalog import Catalog
from nbexec.core.instruments import Instrument

HEADER = (
    "SEM_EXM_EXCH_ID,SEM_SEGMENT,SEM_SMST_SECURITY_ID,SEM_INSTRUMENT_NAME,SEM_EXPIRY_CODE,"
    "SEM_TRADING_SYMBOL,SEM_LOT_UNITS,SEM_CUSTOM_SYMBOL,SEM_EXPIRY_DATE,SEM_STRIKE_PRICE,"
    "SEM_OPTION_TYPE,SEM_TICK_SIZE,SEM_EXPIRY_FLAG,SEM_EXCH_INSTRUMENT_TYPE,SEM_SERIES,SM_SYMBOL_NAME"
)
CSV = "\n".join(
    [
        HEADER,
        "NSE,E,1594,EQUITY,,INFY,1.0,Infosys,,-0.01000,XX,5.0000,NA,ES,EQ,INFOSYS LIMITED",
        "NSE,I,13,INDEX,0,NIFTY,1.0,Nifty 50,0001-01-01,,XX,0.05,,INDEX,X,NIFTY",
        "NSE,D,35001,FUTIDX,0,NIFTY-Dec2026-FUT,75.0,NIFTY DEC FUT,2026-12-31,-1,XX,5.0000,M,FUTIDX,XX,NIFTY",
        "NSE,D,40001,OPTIDX,0,NIFTY-Dec2026-22000-CE,75.0,NIFTY 22000 CE,2026-12-31,22000,CE,5.0000,M,OP,XX,NIFTY",
        "XYZ,Q,1,EQUITY,0,NOPE,1.0,,,,XX,5.0,,ES,EQ,NOPE",
    ]
)


def test_rows_become_instruments_with_dhans_security_ids():
    infy, nifty, fut, call = parse_security_list(CSV)
    assert (infy.key, infy.security_id, infy.dhan_segment, infy.tick_size) == ("NSE:INFY", 1594, "NSE_EQ", 0.05)
    assert (nifty.key, nifty.security_id, nifty.dhan_segment, nifty.tick_size) == ("INDICES:NIFTY", 13, "IDX_I", 0.05)
    assert (fut.key, fut.lot_size, fut.instrument_type, fut.dhan_segment) == (
        "NFO:NIFTY-Dec2026-FUT",
        75,
        "FUT",
        "NSE_FNO",
    )
    assert call.instrument_type == "CE"


def test_merging_gives_kites_instruments_dhans_security_ids():
    kite = [Instrument("NSE", "INFY", 1594), Instrument("NSE", "SBIN", 3045)]
    dhan = [
        Instrument("NSE", "INFY", 1594, dhan_security_id=1594),
        Instrument("NSE", "TCS", 11536, dhan_security_id=11536),
        Instrument("BSE", "INFY", 500209, dhan_security_id=500209),
    ]
    catalog = Catalog.merged(kite, dhan)
    assert len(catalog) == 4 and catalog["NSE:INFY"].kite_token == 408065
    assert catalog.by_security_id("NSE_EQ", 1594).key == "NSE:INFY"
    assert catalog.by_security_id("BSE_EQ", 500209).key == "BSE:INFY"
    assert catalog.get("NSE:NOPE") is None and "NSE:TCS" in catalog
