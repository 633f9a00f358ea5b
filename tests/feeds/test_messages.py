"""The broker-neutral pure parts: URL and log redaction, reconnect policy, mode validation."""

from __future__ import annotations

import logging

import pytest

from nbexec.brokers.kite.market_feed import KiteTickerClient
from nbexec.core.errors import ValidationError
from nbexec.core.instruments import Instrument
from nbexec.core.secrets import Secret
from nbexec.feeds.connection import ReconnectPolicy, RedactingLogger, public_url, redact

INFY = Instrument("NSE", "INFY", 1594)


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
