from nbexec.engine.journal import SignalJournal


def test_unfinished_lists_signals_begun_and_not_done(tmp_path):
    j = SignalJournal(tmp_path / "signals.log")
    j.begin("s1", {"symbol": "NSE:INFY", "qty": 1})
    j.begin("s2", {"symbol": "NSE:TCS", "qty": 2})
    j.done("s1")
    assert list(j.unfinished()) == [("s2", {"symbol": "NSE:TCS", "qty": 2})]


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "signals.log"
    j = SignalJournal(path)
    j.begin("s1", {"qty": 1})
    with open(path, "ab") as f:
        f.write(b'{"signal_id":"s2","sp')
    assert [s for s, _ in SignalJournal(path).unfinished()] == ["s1"]


def test_compact_keeps_only_unfinished_and_appends_after(tmp_path):
    j = SignalJournal(tmp_path / "signals.log")
    for i in range(5):
        j.begin(f"s{i}", {})
    for i in range(4):
        j.done(f"s{i}")
    j.compact()
    j.begin("s9", {})
    assert [s for s, _ in j.unfinished()] == ["s4", "s9"]
    assert len((tmp_path / "signals.log").read_text().splitlines()) == 2
