"""The engine from a TOML config of broker accounts (here: the paper exchange as a Kite broker)."""

import shutil
import uuid

from nbexec.engine.lifecycle import start, stop
from tests.fixtures.redis import short_tmpdir


async def test_a_config_file_of_kite_accounts_loads_the_instrument_dump_and_trades(
    make_paper_exchange, redis_url, monkeypatch
):
    exchange = await make_paper_exchange(accounts=2)
    urls = exchange.urls()
    accounts = []
    for i, a in enumerate(exchange.accounts):
        monkeypatch.setenv(f"TEST_KITE_TOKEN_{i}", a.kite_access_token)
        accounts.append(f"""
[[accounts]]
id = "K{i}"
sizing = {{ fixed = {i + 1} }}
  [[accounts.routes]]
  broker = "kite"
  api_key = "{a.kite_api_key}"
  root = "{urls["kite_rest"]}"
  ws_url = "{urls["kite_ws"]}"
  access_token_env = "TEST_KITE_TOKEN_{i}"
""")
    data_dir = short_tmpdir("nbxk-")
    config = data_dir / "nbexec.toml"
    config.write_text(f'[engine]\nprefix = "k{uuid.uuid4().hex[:8]}"\n' + "".join(accounts))
    oms = await start(config, data_dir=data_dir, redis_url=redis_url)
    try:
        assert oms.paper_info is None and "NSE:RELIANCE" in oms.instruments  # from GET /instruments
        await oms.subscribe("NSE:RELIANCE")
        fanout = oms.fire("NSE:RELIANCE", "BUY", 1, signal_id="from-config")
        await fanout.done(timeout=30)
        assert {a: (o.quantity, o.status.value) for a, o in fanout.orders.items()} == {
            "K0": (1, "FILLED"),
            "K1": (2, "FILLED"),
        }
        booked = {a.id: [o for o in exchange.engine.orders(a.id)] for a in exchange.accounts}
        assert sorted(len(v) for v in booked.values()) == [1, 1]
    finally:
        await stop(oms)
        shutil.rmtree(data_dir, ignore_errors=True)
