"""Kite error envelopes -> nbexec errors: the mapping table, and the broker's message kept."""

from __future__ import annotations

import pytest

from nbexec.brokers.kite.errors import map_kite_error
from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, InputError, OrderRejected, RateLimited


def envelope(error_type, message="broker says no"):
    return {"status": "error", "message": message, "error_type": error_type, "data": None}


@pytest.mark.parametrize(
    "status, error_type, expected",
    [
        (403, "TokenException", AuthError),
        (403, "PermissionException", AuthError),
        (400, "InputException", InputError),
        (500, "OrderException", OrderRejected),  # Kite's default code for a rejection
        (400, "OrderException", OrderRejected),
        (503, "NetworkException", BrokerUnavailable),
        (502, "DataException", BrokerUnavailable),
        (500, "GeneralException", BrokerUnavailable),
        (504, None, BrokerUnavailable),
        (400, "GeneralException", BrokerError),
        (400, "MarginException", BrokerError),
        (404, "UserException", BrokerError),
        (405, None, BrokerError),
        (401, None, AuthError),
    ],
)
def test_error_type_and_status_map_to_the_hierarchy(status, error_type, expected):
    assert type(map_kite_error(status, envelope(error_type))) is expected


@pytest.mark.parametrize("error_type", ["GeneralException", "NetworkException", "InputException", None])
def test_429_is_rate_limited_whatever_the_body_names(error_type):
    assert type(map_kite_error(429, envelope(error_type))) is RateLimited


def test_broker_message_type_and_status_are_kept():
    error = map_kite_error(400, envelope("InputException", "Invalid `quantity`."))
    assert error.broker_message == "Invalid `quantity`."
    assert (error.broker, error.status, error.code) == ("kite", 400, "InputException")
    assert "Invalid `quantity`." in str(error) and "InputException" in str(error)


def test_missing_body_maps_by_status():
    assert type(map_kite_error(503, None)) is BrokerUnavailable
    assert "HTTP 503" in str(map_kite_error(503, None))


def test_non_dict_body_is_treated_as_missing():
    assert type(map_kite_error(400, ["not", "a", "dict"])) is BrokerError
