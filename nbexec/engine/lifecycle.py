"""Starting and stopping the engine: the one place where the layers are wired together.

    oms = await start()                 # zero config: paper exchange + embedded Redis
    oms = await start("nbexec.toml")    # real brokers, secrets from environment variables
    ...
    await stop(oms)

`start` connects Redis (refusing to start if it is unreachable), builds one broker adapter per
account route and warms their order connections, restores the kill switch, runs recovery,
then starts the order-update consumers and the Redis health watch. Runs on the current loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from ..brokers import registry
from ..brokers.base import OrderRoute
from ..core.catalog import Catalog
from ..core.errors import NbexecError, StoreUnavailable
from ..core.instruments import Instrument
from ..core.secrets import Secret
from ..store import OrderStore, connect, resolve_redis_url
from ..store.embedded import default_data_dir
from .accounts import Account
from .config import AccountConfig, EngineConfig, PaperConfig, RouteConfig
from .gate import Gate
from .journal import SignalJournal
from .market_data import MarketData
from .oms import OMS
from .paper import PaperSupervisor
from .recovery import recover
from .routing import Route
from .tasks import BackgroundTasks
from .tracker import OrderTracker

log = logging.getLogger(__name__)


def paper_accounts(info: dict, paper: PaperConfig) -> tuple[AccountConfig, ...]:
    """Each paper account, reachable over both protocols: a Kite route and a Dhan route."""
    timeout = {"order_timeout_s": paper.order_timeout_s}
    return tuple(
        AccountConfig(
            id=a["id"],
            routes=(
                RouteConfig(
                    "kite",
                    {"api_key": a["kite_api_key"], "root": info["kite_rest"], "ws_url": info["kite_ws"], **timeout},
                    {"access_token": Secret(a["kite_access_token"])},
                    name="kite",
                ),
                RouteConfig(
                    "dhan",
                    {
                        "client_id": a["dhan_client_id"],
                        "rest_base": info["dhan_rest"],
                        "feed_ws_url": info["dhan_feed_ws"],
                        "order_ws_url": info["dhan_order_ws"],
                        **timeout,
                    },
                    {"access_token": Secret(a["dhan_access_token"])},
                    name="dhan",
                ),
            ),
        )
        for a in info["accounts"]
    )


def paper_instruments(info: dict) -> dict[str, Instrument]:
    instruments = [
        Instrument(
            i["exchange"],
            i["tradingsymbol"],
            i["exchange_token"],
            tick_size=i["tick_size"],
            lot_size=i["lot_size"],
            dhan_security_id=i.get("security_id", 0),
        )
        for i in info["instruments"]
    ]
    return {i.key: i for i in instruments}


def _route_settings(route: RouteConfig, account_id: str) -> dict[str, Any]:
    """What a broker's factory builds from: the route's settings, its secrets and the account id."""
    return {**route.settings, **route.secrets, "account": account_id}


def make_broker(route: RouteConfig, account_id: str, catalog: Catalog) -> OrderRoute:
    """The adapter behind one account route (Dhan names instruments by security id: `catalog`)."""
    return registry.factory(route.broker).route(_route_settings(route, account_id), catalog)


async def start(
    config: EngineConfig | str | Path | None = None, *, data_dir: str | Path | None = None, redis_url: str | None = None
) -> OMS:
    if config is None:
        config = EngineConfig.paper_default()
    elif not isinstance(config, EngineConfig):
        config = EngineConfig.load(config)
    data_dir = Path(data_dir or default_data_dir())
    if not redis_url:
        redis_url = await asyncio.to_thread(resolve_redis_url)
    store = OrderStore(connect(redis_url), prefix=config.prefix)
    try:
        await store.ping()
    except StoreUnavailable:
        await store.close()
        raise
    accounts_config = list(config.accounts)
    instruments: dict[str, Instrument] = {}
    paper_info = None
    if config.paper is not None:
        paper_info = await asyncio.to_thread(PaperSupervisor(data_dir, config.paper).start)
        accounts_config += paper_accounts(paper_info, config.paper)
        instruments.update(paper_instruments(paper_info))
    accounts: dict[str, Account] = {}
    catalog = Catalog(instruments.values())
    for ac in accounts_config:
        brokers = {r.name: make_broker(r, ac.id, catalog) for r in ac.routes}
        capital = ac.capital
        if capital is None and config.paper is not None:  # a paper account's capital is the paper's
            capital = config.paper.capital
        accounts[ac.id] = Account(
            ac.id,
            ac.sizing,
            [Route(r.name, preference=i) for i, r in enumerate(ac.routes)],
            brokers,
            ac.groups,
            capital,
        )
    await asyncio.gather(*(b.start() for a in accounts.values() for b in a.brokers.values()))
    configured = [b for ac in config.accounts for b in accounts[ac.id].brokers.values()]
    if configured:
        await _load_instruments(configured, catalog, data_dir)
    market = MarketData({i.key: i for i in catalog}, _feed_factory(accounts_config))
    return await assemble(config, store, accounts, market, data_dir, paper_info=paper_info)


async def assemble(
    config: EngineConfig,
    store: OrderStore,
    accounts: dict[str, Account],
    market: MarketData,
    data_dir: Path,
    *,
    paper_info: dict | None = None,
) -> OMS:
    """An engine from parts already built and started (Redis reachable, routes warm): reads
    the kill switch, runs recovery, then starts the order-update consumers and the Redis
    watch. `start` builds the parts from a configuration; tests give in-memory routes here."""
    gate = Gate(killed=await store.kill_switch())
    tasks = BackgroundTasks("engine", log)
    journal = SignalJournal(data_dir, config.prefix)
    tracker = OrderTracker(store, accounts, gate, journal, tasks)
    oms = OMS(
        config,
        store,
        accounts,
        market,
        journal,
        tracker,
        gate,
        tasks,
        recovery=await recover(tracker),
        paper_info=paper_info,
    )
    for account in accounts.values():
        for broker in account.brokers.values():
            tasks.spawn(_consume_updates(tracker, gate, account.id, broker))
    tasks.spawn(_watch_redis(store, gate))
    return oms


async def _load_instruments(brokers: list[OrderRoute], catalog: Catalog, data_dir: Path) -> None:
    """Fill `catalog` from the configured brokers' own lists (Kite's instruments dump, Dhan's
    security list; each cached on disk for the day), joined by key."""
    lists: dict[str, list[Instrument]] = {}
    for broker in brokers:
        if broker.name in lists:
            continue
        try:
            lists[broker.name] = await broker.instruments(cache_dir=data_dir)
        except NbexecError as exc:
            log.warning("%s instrument list not loaded: %s", broker.name, exc)
    for instrument in Catalog.merged(lists.get("kite", []), lists.get("dhan", [])):
        catalog.add(instrument)


def _feed_factory(accounts: list[AccountConfig]):
    """Market data comes over the first account's first route (its broker's market-data socket)."""
    if not accounts:
        return None
    route = accounts[0].routes[0]
    factory, settings = registry.factory(route.broker), _route_settings(route, accounts[0].id)
    return lambda instruments, mode: factory.feed(settings, instruments, mode)


async def _consume_updates(tracker: OrderTracker, gate: Gate, account_id: str, broker: OrderRoute) -> None:
    """Order updates from one broker connection drive transitions, fills and positions."""
    async for seen in broker.order_updates():
        if gate.stopped:
            return
        try:
            await tracker.apply_broker_order(account_id, seen)
        except NbexecError as exc:
            log.warning("order update for %s not applied: %s", seen.tag, exc)


async def _watch_redis(store: OrderStore, gate: Gate, every_s: float = 0.5) -> None:
    """Fail closed while Redis is unreachable, open again when it answers."""
    while not gate.stopped:
        try:
            await store.ping()
            gate.redis_ok = True
        except StoreUnavailable:
            gate.redis_ok = False
        await asyncio.sleep(every_s)


async def stop(oms: OMS, timeout_s: float = 10.0) -> None:
    """Stop the engine (`OMS.stop`): tasks, feeds and connections; orders and state stay in
    Redis (and at the broker). Idempotent and bounded."""
    await oms.stop(timeout_s)
