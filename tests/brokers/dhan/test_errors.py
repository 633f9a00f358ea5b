"""Dhan error bodies -> nbexec errors: the mapping table, and the broker's message kept."""

from __future__ import annotations

import pytest

from nbexec.brokers.dhan.errors import map_dhan_error
from nbexec.core.errors import AuthError, BrokerError, BrokerUnavailable, InputError, OrderRejected, RateLimited


def body(code, message="broker says no", error_type="Order_Error"):
    return {"errorType": error_type, "errorCode": code, "errorMessage": message}


@pytest.mark.parametrize(
    "status, code, expected",
    [
        (401, "DH-901", AuthError),
        (403, "DH-902", AuthError),
        (400, "DH-903", AuthError),
        (429, "DH-904", RateLimited),
        (400, "DH-904", RateLimited),
        (400, "DH-905", InputError),
        (400, "DH-906", OrderRejected),
        (400, "DH-907", BrokerError),
        (500, "DH-908", BrokerUnavailable),
        (503, "DH-909", BrokerUnavailable),
        (400, "DH-910", BrokerError),
        (400, "805", RateLimited),
        (400, "807", AuthError),
        (400, "813", InputError),
        (500, "800", BrokerUnavailable),
        (502, None, BrokerUnavailable),
        (403, None, AuthError),
        (404, "DH-999", BrokerError),
    ],
)
def test_error_code_and_status_map_to_the_hierarchy(status, code, expected):
    assert type(map_dhan_error(status, body(code))) is expected


def test_numeric_data_api_code_is_accepted():
    assert type(map_dhan_error(400, body(807))) is AuthError


def test_lowercase_code_is_accepted():
    assert type(map_dhan_error(400, body("dh-906"))) is OrderRejected


def test_429_is_rate_limited_whatever_the_code():
    assert type(map_dhan_error(429, body("DH-910"))) is RateLimited


def test_broker_message_code_and_status_are_kept():
    error = map_dhan_error(400, body("DH-905", "Missing required fields", "Input_Exception"))
    assert error.broker_message == "Missing required fields"
    assert (error.broker, error.status, error.code) == ("dhan", 400, "DH-905")
    assert "Missing required fields" in str(error) and "Input_Exception" in str(error)


def test_missing_body_maps_by_status():
    assert type(map_dhan_error(500, None)) is BrokerUnavailable
    assert type(map_dhan_error(400, None)) is BrokerError
