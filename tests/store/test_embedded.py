import pytest

from nbexec.core.errors import ConfigError
from nbexec.store import OrderStore, connect
from nbexec.store.connection import mask_url, resolve_redis_url
from nbexec.store.embedded import EmbeddedRedis, find_server_binary

from .helpers import new_order


def test_a_server_binary_ships_with_the_install():
    assert find_server_binary().exists()


def test_start_reuses_a_running_server(private_redis):
    server = private_redis()
    url = server.start()
    pid = server.pid()
    assert private_redis().start() == url
    assert server.pid() == pid


async def test_orders_survive_a_clean_restart(private_redis):
    server = private_redis()
    store = OrderStore(connect(server.start()), prefix="restart")
    order, _ = await store.create(new_order())
    await store.close()
    server.stop()
    assert not server.is_running()
    store = OrderStore(connect(server.start()), prefix="restart")
    assert await store.get(order.account, order.order_id) == order
    await store.close()


def test_unknown_fsync_policy_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="appendfsync"):
        EmbeddedRedis(tmp_path, appendfsync="sometimes")


def test_a_data_dir_too_long_for_a_unix_socket_is_refused_clearly(tmp_path):
    with pytest.raises(ConfigError, match="NBEXEC_DATA_DIR"):
        EmbeddedRedis(tmp_path / ("x" * 120))


def test_external_url_wins_over_the_embedded_server(monkeypatch):
    monkeypatch.setenv("NBEXEC_REDIS_URL", "redis://:hunter2@127.0.0.1:6390/0")
    assert resolve_redis_url() == "redis://:hunter2@127.0.0.1:6390/0"


def test_passwords_are_masked_for_display():
    assert mask_url("redis://:hunter2@127.0.0.1:6390/0") == "redis://:***@127.0.0.1:6390/0"
    assert mask_url("unix:///tmp/x/redis.sock") == "unix:///tmp/x/redis.sock"
