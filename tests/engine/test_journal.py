import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbexec.engine.journal import PAGE, SignalJournal, begin_line
from tests.fixtures.examples import examples

COMMON = {
    "instrument": "NSE:INFY",
    "trigger_price": 0.0,
    "product": "MIS",
    "validity": "DAY",
    "created_at_ns": 1_700_000_000_000_000_000,
    "ts_signal": 123,
}


def begin(journal: SignalJournal, signal_id: str, *orders, rejected=(), **common) -> dict:
    """Begin `signal_id` with these orders (and refused ones); the spec it should read back as."""
    common = {**COMMON, **common}
    journal.begin(begin_line(signal_id, orders=orders, rejected=rejected, **common))
    return {"common": common, "orders": [list(o) for o in orders], "rejected": [list(r) for r in rejected]}


def test_unfinished_lists_signals_begun_and_not_done(tmp_path):
    j = SignalJournal(tmp_path, "p")
    begin(j, "s1", ("A1", "BUY", 1, "MARKET", 0.0))
    spec = begin(j, "s2", ("A1", "SELL", 2, "LIMIT", 812.35), ("A2", "SELL", 4, "LIMIT", 812.35), instrument="NSE:TCS")
    j.done("s1")
    assert j.unfinished() == [("s2", spec)]


text = st.text(st.characters(codec="utf-8"), max_size=12)  # quotes, backslashes, controls, non-ASCII
price = st.floats(min_value=0, allow_infinity=False, allow_nan=False)


@settings(max_examples=examples(200), deadline=None)
@given(
    signal_id=text,
    instrument=text,
    trigger=price,
    product=text,
    validity=text,
    created=st.integers(0, 2**63 - 1),
    ts=st.integers(0, 2**63 - 1),
    orders=st.lists(st.tuples(text, text, st.integers(1, 10**9), text, price), max_size=4),
    rejected=st.lists(st.tuples(text, text, st.integers(1, 10**9), text, price, text), max_size=3),
)
def test_the_line_written_by_hand_reads_back_as_the_record_json_would_write(
    tmp_path_factory, signal_id, instrument, trigger, product, validity, created, ts, orders, rejected
):
    journal = SignalJournal(tmp_path_factory.mktemp("j"), "p")
    spec = begin(
        journal,
        signal_id,
        *orders,
        rejected=rejected,
        instrument=instrument,
        trigger_price=trigger,
        product=product,
        validity=validity,
        created_at_ns=created,
        ts_signal=ts,
    )
    (line,) = journal.path.read_bytes().rstrip(b"\0").splitlines()
    assert json.loads(line) == {"signal_id": signal_id, "spec": spec}
    assert all(math.isfinite(o[4]) for o in spec["orders"])


def test_lines_beyond_the_mapped_size_grow_the_file(tmp_path):
    j = SignalJournal(tmp_path, "p", size=64)
    specs = [begin(j, f"s{i}", ("A1", "BUY", i + 1, "LIMIT", 100.5)) for i in range(40)]
    j.done("s0")
    assert j.unfinished() == [(f"s{i}", spec) for i, spec in enumerate(specs)][1:]
    assert os.path.getsize(j.path) > 40 * 150


def test_warming_touches_the_next_pages_and_changes_no_byte(tmp_path):
    j = SignalJournal(tmp_path, "p", size=3 * PAGE)
    begin(j, "s1")
    before = j.path.read_bytes()
    j.warm()
    assert j.path.read_bytes() == before and j.unfinished()[0][0] == "s1"


def test_a_journal_whose_engine_is_gone_is_an_orphan_until_a_recovery_finishes_it(tmp_path):
    live, gone, recovering = (SignalJournal(tmp_path, "p") for _ in range(3))
    begin(live, "live-signal")
    spec = begin(gone, "gone-signal")
    begin(gone, "gone-and-done")
    gone.done("gone-and-done")
    other_prefix = SignalJournal(tmp_path, "q")
    begin(other_prefix, "not-ours")
    other_prefix.close()
    gone.close()  # as its process's death would: unlocked, signals left

    (orphan,) = recovering.orphans()  # neither the live engine's nor another prefix's
    assert orphan.path == gone.path and orphan.unfinished() == [("gone-signal", spec)]
    assert list(SignalJournal(tmp_path, "p").orphans()) == []  # locked while a recovery has it
    with orphan:
        pass  # every signal finished
    assert not gone.path.exists() and list(recovering.orphans()) == []


def test_an_orphan_whose_recovery_fails_is_kept_for_the_next_and_locks_no_other(tmp_path):
    for signal_id in ("s1", "s2"):
        gone = SignalJournal(tmp_path, "p")
        begin(gone, signal_id)
        gone.close()
    recovering = SignalJournal(tmp_path, "p")
    try:
        for orphan in recovering.orphans():
            with orphan:
                raise ConnectionError("the broker is down")
    except ConnectionError:
        pass
    # the failed one is unlocked again, the other was never locked: the next recovery has both
    assert sorted(o.unfinished()[0][0] for o in SignalJournal(tmp_path, "p").orphans()) == ["s1", "s2"]


@pytest.mark.process
def test_a_killed_process_leaves_its_lines_and_its_lock_goes_with_it(tmp_path):
    """SIGKILL after a line: the line is in the file (the page cache outlives the process)."""
    code = (
        "import os, signal, sys; from nbexec.engine.journal import SignalJournal, begin_line; "
        "j = SignalJournal(sys.argv[1], 'p'); "
        "j.begin(begin_line('killed', instrument='NSE:INFY', trigger_price=0.0, product='MIS', validity='DAY', "
        "created_at_ns=1, ts_signal=2, orders=[('A1', 'BUY', 1, 'LIMIT', 10.5)])); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path)]).returncode == -9
    (orphan,) = SignalJournal(tmp_path, "p").orphans()
    assert orphan.unfinished() == [
        (
            "killed",
            {
                "common": {**COMMON, "created_at_ns": 1, "ts_signal": 2},
                "orders": [["A1", "BUY", 1, "LIMIT", 10.5]],
                "rejected": [],
            },
        )
    ]


def test_a_torn_last_line_is_ignored(tmp_path):
    j = SignalJournal(tmp_path, "p")
    begin(j, "s1")
    j._map[j._at : j._at + 21] = b'{"signal_id":"s2","sp'  # a copy cut short by a crash
    j.close()
    (orphan,) = SignalJournal(tmp_path, "p").orphans()
    assert [s for s, _ in orphan.unfinished()] == ["s1"]


def test_closing_deletes_a_journal_with_nothing_unfinished(tmp_path):
    j = SignalJournal(tmp_path, "p")
    begin(j, "s1")
    j.done("s1")
    j.close()
    assert list(tmp_path.iterdir()) == []


def test_a_journal_of_an_older_version_is_adopted_too(tmp_path):
    """Before per-engine files, every engine appended to `{prefix}-signals.log`."""
    (tmp_path / "p-signals.log").write_bytes(begin_line("old", orders=(), **COMMON) + b'{"signal_id":"x","sp')
    (orphan,) = SignalJournal(tmp_path, "p").orphans()
    assert [s for s, _ in orphan.unfinished()] == ["old"]
