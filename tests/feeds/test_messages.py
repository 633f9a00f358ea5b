"""The clients' pure parts: subscription messages, URL and log redaction, reconnect policy."""

from __future__ import annotations

import json
import logging

import pytest

from nbexec.core.errors import AuthError, BrokerError, ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds import dhan_feed, kite_ticker
from nbexec.feeds.connection import ReconnectPolicy, RedactingLogger, public_url, redact
from nbexec.feeds.dhan_feed import DhanFeedClient
from nbexec.feeds.kite_ticker import KiteTickerClient
from nbexec.paper.dhan.ticks import encode_disconnect

INFY = Instrument("NSE", "INFY", 1594)
NIFTY = Instrument("INDICES", "NIFTY 50", 1001, dhan_security_id=13)


def test_kite_subscribes_then_sets_the_mode_of_each_group():
    messages = [json.loads(m) for m in kite_ticker.subscribe_messages({"full": [408065], "ltp": [1, 2]})]
    assert messages == [{"a": "subscribe", "v": [408065]}, {"a": "mode", "v": ["full", [408065]]},
                        {"a": "subscribe", "v": [1, 2]}, {"a": "mode", "v": ["ltp", [1, 2]]}]
    assert json.loads(kite_ticker.unsubscribe_messages([7])[0]) == {"a": "unsubscribe", "v": [7]}


def test_dhan_requests_carry_at_most_100_instruments_each():
    keys = [("NSE_EQ", i) for i in range(250)]
    messages = [json.loads(m) for m in dhan_feed.request_messages(17, keys)]
    assert [m["InstrumentCount"] for m in messages] == [100, 100, 50]
    assert all(m["RequestCode"] == 17 for m in messages)
    assert messages[2]["InstrumentList"][-1] == {"ExchangeSegment": "NSE_EQ", "SecurityId": "249"}


def test_dhan_mode_change_unsubscribes_the_old_mode_first():
    client = DhanFeedClient("ws://h/feed", "1100000001", Secret("tok"))
    sent = [json.loads(m) for m in client._subscribe_messages({"full": [("NSE_EQ", 1594)]},
                                                              {("NSE_EQ", 1594): "ltp"})]
    assert [m["RequestCode"] for m in sent] == [16, 21]


def test_tick_ids_match_what_each_decoder_writes():
    assert KiteTickerClient("ws://h", "k", Secret("t")).tick_id(INFY) == (1594 << 8 | 1, 1)
    assert DhanFeedClient("ws://h", "c", Secret("t")).tick_id(NIFTY) == (13, 0)   # IDX_I


def test_urls_carry_the_credentials_and_reprs_do_not():
    kite = KiteTickerClient("ws://h:1/kite/ws", "key1", Secret("SECRET-AT"))
    assert kite._connect_url() == "ws://h:1/kite/ws?api_key=key1&access_token=SECRET-AT"
    dhan = DhanFeedClient("ws://h:1/dhan/feed", "1100000001", Secret("SECRET-JWT"))
    assert dhan._connect_url() == "ws://h:1/dhan/feed?version=2&token=SECRET-JWT&clientId=1100000001&authType=2"
    assert "SECRET" not in repr(kite) + repr(dhan)
    assert "h:1/kite/ws" in repr(kite)


def test_public_url_drops_query_and_user_info():
    assert public_url("wss://u:p@api-feed.dhan.co:443/x?token=abc") == "wss://api-feed.dhan.co:443/x"


def test_redact_masks_raw_and_url_quoted_values():
    secret = Secret("a/b+c")
    assert redact("t=a/b+c or t=a%2Fb%2Bc", [secret]) == "t=*** or t=***"


def test_redacting_logger_masks_arguments_and_tracebacks(caplog):
    caplog.set_level(logging.DEBUG)
    logger = RedactingLogger(logging.getLogger("test.redact"), [Secret("TOKEN123")])
    logger.debug("> GET %s HTTP/1.1", "/?access_token=TOKEN123")
    try:
        raise ValueError("bad uri ws://h/?access_token=TOKEN123")
    except ValueError:
        logger.error("failed", exc_info=True)
    assert "TOKEN123" not in caplog.text
    assert "> GET /?access_token=*** HTTP/1.1" in caplog.text and "ValueError" in caplog.text


def test_reconnect_policy_is_validated():
    with pytest.raises(ValidationError, match="base_s"):
        ReconnectPolicy(base_s=0)
    with pytest.raises(ValidationError, match="watchdog_s"):
        ReconnectPolicy(watchdog_s=0)


def test_unknown_mode_is_refused():
    with pytest.raises(ValidationError, match="mode"):
        KiteTickerClient("ws://h", "k", Secret("t")).subscribe([INFY], "depth")


@pytest.mark.parametrize("reason, error", [(807, AuthError), (810, AuthError), (804, BrokerError),
                                           (805, BrokerError)])
def test_dhan_disconnects_that_retrying_cannot_fix_stop_the_client(reason, error):
    client = DhanFeedClient("ws://h", "c", Secret("t"))
    with pytest.raises(error) as info:
        client._decode(encode_disconnect(reason))
    assert info.value.code == str(reason) and info.value.broker == "dhan"


def test_other_dhan_disconnects_let_the_client_reconnect():
    assert len(DhanFeedClient("ws://h", "c", Secret("t"))._decode(encode_disconnect(800))) == 0
