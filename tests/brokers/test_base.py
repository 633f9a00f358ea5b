"""The OrderRoute contract's shared parts: modify validation, and the protocol itself."""

from __future__ import annotations

import inspect

import pytest

from nbexec.brokers.base import OrderRoute, check_changes
from nbexec.brokers.dhan.adapter import DhanBroker
from nbexec.brokers.kite.adapter import KiteBroker
from nbexec.core.errors import ValidationError


def test_modify_changes_must_be_known_fields():
    with pytest.raises(ValidationError):
        check_changes({"quantity": 5, "side": "SELL"})


def test_modify_needs_at_least_one_change():
    with pytest.raises(ValidationError):
        check_changes({})


def test_order_route_is_an_interface_only():
    with pytest.raises(TypeError):
        OrderRoute()


@pytest.mark.parametrize("adapter", [KiteBroker, DhanBroker])
def test_each_adapter_takes_what_the_protocol_declares(adapter):
    """Same parameters, async where declared (a narrower result is fine). `name` and
    `account` are attributes: test_registry.py checks them on built adapters."""
    methods = {
        name: member
        for name, member in vars(OrderRoute).items()
        if not name.startswith("_") and not isinstance(member, property)
    }
    assert {"prepare_place", "send_place", "cancel", "order_by_tag", "order_updates"} <= set(methods)
    for name, declared in methods.items():
        implemented = getattr(adapter, name)
        assert list(inspect.signature(implemented).parameters.values()) == list(
            inspect.signature(declared).parameters.values()
        ), name
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared), name
