import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbexec.notebook.grammar import VERBS, Command, MagicUsageError, parse_cell, parse_line
from tests.fixtures.examples import examples


def test_buy_with_every_option():
    cmd = parse_line("buy nse:infy 10 --limit 1500.5 --slippage 20bps --accounts A1,A2 --product cnc --tag s1")
    assert cmd == Command(
        "order",
        {
            "side": "BUY",
            "symbol": "NSE:INFY",
            "quantity": 10,
            "limit": 1500.5,
            "max_slippage_bps": 20.0,
            "accounts": ["A1", "A2"],
            "product": "CNC",
            "tag": "s1",
        },
    )


def test_sell_defaults_to_all_accounts_and_percent_slippage_is_bps():
    cmd = parse_line("sell NSE:INFY 5 --limit-slippage 0.2%")
    assert cmd.args["accounts"] == "all" and cmd.args["max_slippage_bps"] == pytest.approx(20.0)


@pytest.mark.parametrize(
    "line,words",
    [
        ("buy NSE:INFY ten", "quantity 'ten' is not a whole number"),
        ("buy NSE:INFY 0", "must be positive"),
        ("buy INFY 10", "expected EXCHANGE:SYMBOL"),
        ("buy NSE:INFY 10 --limit -3", "must be a positive number"),
        ("buy NSE:INFY 10 --slippage lots", "use basis points"),
        ("buy NSE:INFY 10 --type LIMIT", "needs --limit"),
        ("sell NSE:INFY 1 --trigger 99", "needs --type SL or SL-M"),
        ("frobnicate", "unknown command 'frobnicate'"),
        ("buy 'NSE:INFY 10", "cannot split"),
        ("busy-poll maybe", "say on or off"),
        ("busy-poll", "the following arguments are required"),
    ],
)
def test_bad_lines_say_what_is_wrong(line, words):
    with pytest.raises(MagicUsageError, match=words):
        parse_line(line)


def test_every_command_has_help():
    for verb in VERBS:
        assert parse_line(f"{verb} --help").verb == "help"
    assert "subscribe" in parse_line("").args["text"]


def test_busy_poll_is_on_or_off():
    assert [parse_line(f"busy-poll {word}").args for word in ("on", "OFF")] == [{"on": True}, {"on": False}]


def test_target_accepts_a_negative_position():
    assert parse_line("target NSE:TCS -20").args == {"symbol": "NSE:TCS", "quantity": -20, "accounts": "all"}


def test_basket_cell_is_one_order_per_line():
    cmds = parse_cell("buy NSE:INFY 10\n# hedge\n\nsell NSE:TCS 5 --limit 3500  # tight\n")
    assert [(c.args["side"], c.args["symbol"]) for c in cmds] == [("BUY", "NSE:INFY"), ("SELL", "NSE:TCS")]


def test_basket_errors_name_the_line():
    with pytest.raises(MagicUsageError, match="line 2"):
        parse_cell("buy NSE:INFY 10\nstatus\n")


words = st.sampled_from(
    list(VERBS)
    + [
        "NSE:INFY",
        "10",
        "-5",
        "--limit",
        "--accounts",
        "all",
        "x,y",
        "--slippage",
        "20bps",
        "--type",
        "SL",
        "'",
        '"',
        "--",
        "-h",
        "1e9",
    ]
)


@settings(max_examples=examples(400))
@given(st.one_of(st.text(max_size=60), st.lists(words, max_size=8).map(" ".join)))
def test_any_line_gives_a_command_or_a_usage_error(line):
    try:
        result = parse_line(line)
    except MagicUsageError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Command)
