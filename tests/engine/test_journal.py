import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from nbexec.engine.journal import SignalJournal, begin_line

COMMON = {"instrument": "NSE:INFY", "trigger_price": 0.0, "product": "MIS", "validity": "DAY",
          "created_at_ns": 1_700_000_000_000_000_000, "ts_signal": 123}


def begin(journal: SignalJournal, signal_id: str, *orders, rejected=(), **common) -> dict:
    """Begin `signal_id` with these orders (and refused ones); the spec it should read back as."""
    common = {**COMMON, **common}
    journal.begin(begin_line(signal_id, orders=orders, rejected=rejected, **common))
    return {"common": common, "orders": [list(o) for o in orders], "rejected": [list(r) for r in rejected]}


def test_unfinished_lists_signals_begun_and_not_done(tmp_path):
    j = SignalJournal(tmp_path / "signals.log")
    begin(j, "s1", ("A1", "BUY", 1, "MARKET", 0.0))
    spec = begin(j, "s2", ("A1", "SELL", 2, "LIMIT", 812.35), ("A2", "SELL", 4, "LIMIT", 812.35), instrument="NSE:TCS")
    j.done("s1")
    assert list(j.unfinished()) == [("s2", spec)]


text = st.text(st.characters(codec="utf-8"), max_size=12)   # quotes, backslashes, controls, non-ASCII
price = st.floats(min_value=0, allow_infinity=False, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(signal_id=text, instrument=text, trigger=price, product=text, validity=text,
       created=st.integers(0, 2**63 - 1), ts=st.integers(0, 2**63 - 1),
       orders=st.lists(st.tuples(text, text, st.integers(1, 10**9), text, price), max_size=4),
       rejected=st.lists(st.tuples(text, text, st.integers(1, 10**9), text, price, text), max_size=3))
def test_the_line_written_by_hand_reads_back_as_the_record_json_would_write(
        tmp_path_factory, signal_id, instrument, trigger, product, validity, created, ts, orders, rejected):
    path = tmp_path_factory.mktemp("j") / "signals.log"
    spec = begin(SignalJournal(path), signal_id, *orders, rejected=rejected, instrument=instrument,
                 trigger_price=trigger, product=product, validity=validity, created_at_ns=created, ts_signal=ts)
    (line,) = path.read_bytes().splitlines()
    assert json.loads(line) == {"signal_id": signal_id, "spec": spec}
    assert all(math.isfinite(o[4]) for o in spec["orders"])


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "signals.log"
    j = SignalJournal(path)
    begin(j, "s1")
    with open(path, "ab") as f:
        f.write(b'{"signal_id":"s2","sp')
    assert [s for s, _ in SignalJournal(path).unfinished()] == ["s1"]


def test_compact_keeps_only_unfinished_and_appends_after(tmp_path):
    j = SignalJournal(tmp_path / "signals.log")
    for i in range(5):
        begin(j, f"s{i}")
    for i in range(4):
        j.done(f"s{i}")
    j.compact()
    begin(j, "s9")
    assert [s for s, _ in j.unfinished()] == ["s4", "s9"]
    assert len((tmp_path / "signals.log").read_text().splitlines()) == 2
