"""The shared pieces under both adapters: eager start, update hub, fills from updates, config."""

from __future__ import annotations

import asyncio

import pytest

from nbexec.brokers.channel import start_eagerly
from nbexec.brokers.dhan.config import DhanConfig
from nbexec.brokers.kite.config import KiteConfig
from nbexec.brokers.settings import Endpoint, env_names
from nbexec.brokers.types import BrokerOrder
from nbexec.brokers.updates import UpdateHub
from nbexec.core.errors import ConfigError
from nbexec.core.states import OrderStatus


async def test_start_eagerly_runs_up_to_the_first_suspension_before_returning():
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def work() -> int:
        steps.append("written")
        value = await gate
        steps.append("answered")
        return value

    result = start_eagerly(work())
    assert steps == ["written"] and not result.done()
    gate.set_result(7)
    assert await result == 7 and steps == ["written", "answered"]


async def test_start_eagerly_hands_over_results_errors_and_cancellation():
    async def quick() -> str:
        return "done"

    async def broken() -> None:
        raise ValueError("bad")

    assert await start_eagerly(quick()) == "done"
    with pytest.raises(ValueError):
        await start_eagerly(broken())
    cleaned: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append(True)

    pending = start_eagerly(slow())
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert cleaned == [True]


def update(filled: int, average: float, status=OrderStatus.PARTIALLY_FILLED) -> BrokerOrder:
    return BrokerOrder("O1", "tag1", status, quantity=10, filled_quantity=filled, average_price=average)


async def test_the_hub_registers_a_subscription_when_it_is_made():
    hub = UpdateHub()
    a, b = hub.subscribe(), hub.subscribe()
    hub.publish(update(1, 1.0))  # before anyone iterates
    assert (await a.__anext__()).filled_quantity == 1 and (await b.__anext__()).filled_quantity == 1
    b.close()
    hub.publish(update(2, 1.0))
    hub.close()
    assert [u.filled_quantity async for u in a] == [2]
    assert [u async for u in b] == []


def test_config_from_environment_with_documented_names_and_masked_secrets():
    env = {"NBEXEC_KITE_API_KEY": "k1", "NBEXEC_KITE_ACCESS_TOKEN": "t0ps3cr3t", "NBEXEC_KITE_ORDER_TIMEOUT_S": "2.5"}
    config = KiteConfig.from_env(env)
    assert (config.api_key, config.account, config.order_timeout_s) == ("k1", "k1", 2.5)
    assert config.access_token.reveal() == "t0ps3cr3t" and "t0ps3cr3t" not in repr(config)
    assert env_names(DhanConfig)["access_token"] == "NBEXEC_DHAN_ACCESS_TOKEN"
    with pytest.raises(ConfigError, match="NBEXEC_DHAN_ACCESS_TOKEN"):
        DhanConfig.from_env({"NBEXEC_DHAN_CLIENT_ID": "1000000001"})
    with pytest.raises(ConfigError, match="unknown"):
        KiteConfig.from_mapping({"api_key": "k", "apikey": "typo"})


def test_endpoints_split_rest_roots_for_the_lean_transport():
    assert Endpoint.parse("https://api.dhan.co/v2") == Endpoint("api.dhan.co", 443, True, "api.dhan.co", "/v2")
    assert Endpoint.parse("http://127.0.0.1:8000/x", keep_path=False).prefix == ""
    with pytest.raises(ConfigError):
        Endpoint.parse("ftp://nowhere")
