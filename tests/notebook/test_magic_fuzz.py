"""Whatever a user types after `%oms`, the answer is a result or a UsageError with a message.

The magics run in-process in a real IPython `InteractiveShell` against a real engine (its own
paper exchange and Redis); with no kernel loop running, `sync.run` drives IPython's own asyncio
loop. Any other exception escaping the magic is a traceback from inside nbexec: a failure.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from nbexec.notebook.grammar import VERBS
from tests.fixtures.redis import short_tmpdir

from .kernels import stop_engine_servers

pytestmark = pytest.mark.slow

WORDS = [
    "NSE:INFY",
    "NSE:TCS",
    "NSE:NOPE",
    "INFY",
    "nse:infy",
    "10",
    "0",
    "-3",
    "1.5",
    "1e9",
    "99999999",
    "--limit",
    "--accounts",
    "all",
    "PA0001",
    "PA0001,PA0002",
    "nogroup",
    "--type",
    "LIMIT",
    "SL",
    "SL-M",
    "--trigger",
    "--slippage",
    "20bps",
    "0.2%",
    "--product",
    "CNC",
    "--validity",
    "IOC",
    "--tag",
    "t1",
    "--help",
    "-h",
    "'",
    '"',
    "#",
    "--config",
    "/nonexistent.toml",
    "--accounts",
    "3",
    "all",
]
# start and stop change the engine under the other commands: they get their own test below.
FUZZED_VERBS = [v for v in VERBS if v not in ("start", "stop")] + ["help", "BUY", "frobnicate", ""]

token = st.one_of(st.sampled_from(WORDS), st.text(max_size=8))
command_line = st.builds(
    lambda verb, words: " ".join([verb, *words]), st.sampled_from(FUZZED_VERBS), st.lists(token, max_size=6)
)
# Well-formed signals, so the engine's side (sizing, risk, the wire, the kill switch) is reached.
OPTIONS = [
    "--limit 1500",
    "--limit 0.05",
    "--type LIMIT",
    "--type SL --trigger 1490 --limit 1489",
    "--type SL-M --trigger 1600",
    "--slippage 5bps",
    "--accounts PA0001",
    "--accounts PA0002,PA0003",
    "--accounts nogroup",
    "--product CNC",
    "--validity IOC",
    "--tag fz1",
]
signal_line = st.builds(
    lambda verb, symbol, qty, options: " ".join([verb, symbol, str(qty), *options]),
    st.sampled_from(["buy", "sell", "target"]),
    st.sampled_from(["NSE:INFY", "NSE:TCS", "NSE:ITC", "NSE:NOPE"]),
    st.integers(-5, 10**7),
    st.lists(st.sampled_from(OPTIONS), max_size=3, unique=True),
)
any_line = st.one_of(command_line, signal_line, st.sampled_from(["kill", "unkill", "cancel all"]), st.text(max_size=40))


@pytest.fixture(scope="module")
def shell():
    data_dir = short_tmpdir("nbxfz-")
    saved = os.environ.get("NBEXEC_DATA_DIR")
    os.environ["NBEXEC_DATA_DIR"] = str(data_dir)
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "nbexec")
        ip.run_line_magic("oms", "start --accounts 3")
        ip.run_line_magic("oms", "subscribe NSE:INFY NSE:TCS")
        yield ip
    finally:
        ip.run_line_magic("oms", "stop")
        InteractiveShell.clear_instance()
        if saved is None:
            os.environ.pop("NBEXEC_DATA_DIR", None)
        else:
            os.environ["NBEXEC_DATA_DIR"] = saved
        stop_engine_servers(data_dir)


def answer(run) -> object:
    """Run a magic; a UsageError must carry a message and no traceback."""
    try:
        return run()
    except UsageError as exc:
        message = str(exc)
        assert message.strip() and "Traceback" not in message
        return exc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=any_line)
def test_any_line_gives_a_result_or_a_usage_error(shell, line):
    answer(lambda: shell.run_line_magic("oms", line))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cell=st.lists(st.one_of(signal_line, command_line, st.text(max_size=20)), max_size=4).map("\n".join))
def test_any_basket_gives_a_result_or_a_usage_error(shell, cell):
    answer(lambda: shell.run_cell_magic("oms", "", cell))


def test_a_command_before_start_says_to_start(shell):
    shell.run_line_magic("oms", "stop")
    try:
        for line in ("orders", "buy NSE:INFY 1", "blotter", "subscribe NSE:INFY"):
            error = answer(lambda line=line: shell.run_line_magic("oms", line))
            assert isinstance(error, UsageError) and "%oms start" in str(error)
        assert "not running" in str(shell.run_line_magic("oms", "status"))
        assert isinstance(answer(lambda: shell.run_line_magic("oms", "start --accounts 0")), UsageError)
        assert isinstance(answer(lambda: shell.run_line_magic("oms", "start --config /nonexistent.toml")), UsageError)
    finally:
        shell.run_line_magic("oms", "start --accounts 3")
        shell.run_line_magic("oms", "subscribe NSE:INFY NSE:TCS")


def test_busy_poll_turns_on_and_off_and_shows_in_status(shell):
    oms = shell.user_ns["oms"]
    try:
        shell.run_line_magic("oms", "busy-poll on")
        assert oms.busy_poll and shell.run_line_magic("oms", "status")["busy poll"] == "ON"
    finally:
        shell.run_line_magic("oms", "busy-poll off")
    assert not oms.busy_poll and shell.run_line_magic("oms", "status")["busy poll"] == "off"


def test_errors_name_the_problem(shell):
    shell.run_line_magic("oms", "kill")  # bad input is named before the engine's state is judged
    try:
        for line, words in (
            ("buy NSE:NOPE 1", "unknown instrument"),
            ("buy NSE:INFY 1 --accounts ZZ9", "no such account"),
            ("cancel nosuchorder", "no such order"),
            ("frobnicate", "unknown command"),
        ):
            error = answer(lambda line=line: shell.run_line_magic("oms", line))
            assert isinstance(error, UsageError) and words in str(error), (line, str(error))
        error = answer(lambda: shell.run_cell_magic("oms", "", "buy NSE:INFY 1\nbuy NSE:NOPE 1"))
        assert isinstance(error, UsageError) and "line 2" in str(error) and "nothing was sent" in str(error)
    finally:
        shell.run_line_magic("oms", "unkill")
