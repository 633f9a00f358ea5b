"""The order store: orders, their transitions, positions and the event log, in Redis.

Guarantees:
- `create` is idempotent per (signal id, account), across processes and restarts.
- `transition` / `apply_fill` are one atomic round trip (a Lua script): the transition table
  and the expected version are checked, the hash written, the event appended to the account's
  capped stream and a notification published, or nothing happens at all.
- A fill is applied once per broker trade id, however often the broker repeats the update.
- Every call fails within about one second with `StoreUnavailable` while Redis is down, and
  works again as soon as it is back (same object, no restart).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..core.errors import InvalidTransition, NbexecError, OrderNotFound, StaleVersion, StoreUnavailable, ValidationError
from ..core.fills import Fill, Position
from ..core.orders import Order, order_from_fields, order_to_fields
from ..core.states import OrderStatus
from .keys import Keys
from .scripts import CREATE_SCRIPT, TRANSITION_SCRIPT

T = TypeVar("T")
DEFAULT_STREAM_MAXLEN = 1_000_000
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


def _guard(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Map every way of not reaching Redis to `StoreUnavailable` (fail closed, never hang)."""

    @functools.wraps(fn)
    async def wrapper(self: OrderStore, *args: Any, **kwargs: Any) -> T:
        try:
            return await fn(self, *args, **kwargs)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis unreachable during {fn.__name__}: {exc}") from exc

    return wrapper


@dataclass(frozen=True, slots=True)
class TransitionResult:
    version: int
    status: OrderStatus
    duplicate_fill: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    """One requested transition for `transition_batch`."""

    order: Order | tuple[str, str]
    status: OrderStatus | str
    fields: Mapping[str, object] = field(default_factory=dict)
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One entry of an account's event stream."""

    stream_id: str
    order_id: str
    version: int
    from_status: str
    to_status: str
    ts: int
    changes: dict[str, str]


def rebuild_orders(events: list[OrderEvent]) -> dict[str, dict[str, str]]:
    """Replay events in stream order into the order hashes they produced (pure)."""
    hashes: dict[str, dict[str, str]] = {}
    for event in events:
        hashes.setdefault(event.order_id, {}).update(event.changes)
    return hashes


class OrderStore:
    """Async order store over one `redis.asyncio` client (one per event loop)."""

    # The client decodes responses (`connect`): the ignores on reads below type them as str,
    # where redis-py's types say bytes | str.

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "nbexec", stream_maxlen: int = DEFAULT_STREAM_MAXLEN
    ) -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self.stream_maxlen = stream_maxlen
        self._create = client.register_script(CREATE_SCRIPT)
        self._transition = client.register_script(TRANSITION_SCRIPT)

    async def close(self) -> None:
        await self.redis.aclose()

    @_guard
    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- the kill switch ------------------------------------------------------------------
    @_guard
    async def kill_switch(self) -> bool:
        """Whether the kill switch of this prefix is on (set by any engine sharing the store)."""
        return bool(await self.redis.exists(self.keys.kill_switch()))

    @_guard
    async def set_kill_switch(self, on: bool) -> None:
        if on:
            await self.redis.set(self.keys.kill_switch(), "1")
        else:
            await self.redis.delete(self.keys.kill_switch())

    # -- writes -------------------------------------------------------------------------
    @_guard
    async def create(self, order: Order, path: Sequence[OrderStatus | str] = ()) -> tuple[Order, bool]:
        """Store `order` unless its (signal, account) already has one; (order, created?).

        `path` is the hops the order already took, NEW first and `order.status` last (default:
        just NEW). Each hop is checked against the table and gets its own event, so an order
        recorded after it went on the wire still has its whole history.
        """
        keys, args = self._create_call(order, path)
        try:
            created, order_id = await self._create(keys=keys, args=args)
        except ResponseError as exc:
            raise _script_error(order.order_id, exc) from None
        await self.redis.sadd(self.keys.accounts(), order.account)
        if created:
            return order, True
        return await self.get(order.account, order_id), False

    @_guard
    async def create_batch(
        self, orders: Sequence[tuple[Order, Sequence[OrderStatus | str]]]
    ) -> list[tuple[Order, bool] | NbexecError]:
        """`create` for many orders in one pipelined round trip (a fan-out, after the wire)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for order, path in orders:
                keys, args = self._create_call(order, path)
                await self._create(keys=keys, args=args, client=pipe)
            pipe.sadd(self.keys.accounts(), *{o.account for o, _ in orders})
            replies = (await pipe.execute(raise_on_error=False))[:-1]
        results: list[tuple[Order, bool] | NbexecError] = []
        for (order, _), reply in zip(orders, replies, strict=True):
            if isinstance(reply, ResponseError):
                results.append(_script_error(order.order_id, reply))
            elif reply[0]:
                results.append((order, True))
            else:
                results.append((await self.get(order.account, reply[1]), False))
        return results

    def _create_call(self, order: Order, path: Sequence[OrderStatus | str]) -> tuple[list[str], list[str | int]]:
        hops = [OrderStatus(s).value for s in path] or [OrderStatus.NEW.value]
        if hops[-1] != order.status.value or len(hops) != order.version:
            raise ValidationError(
                "path",
                hops,
                f"must end at the order's status {order.status} and have {order.version} hops (its version)",
            )
        k = self.keys
        flat = [x for kv in order_to_fields(order).items() for x in kv]
        keys = [
            k.idempotency(order.account, order.signal_id),
            k.order(order.account, order.order_id),
            k.open_orders(order.account),
            k.events(order.account),
        ]
        return keys, [order.order_id, k.channel(), self.stream_maxlen, time.time_ns(), ",".join(hops), *flat]

    @_guard
    async def transition(
        self,
        order: Order | tuple[str, str],
        status: OrderStatus | str,
        *,
        expected_version: int | None = None,
        **fields: object,
    ) -> TransitionResult:
        """Move an order to `status`, setting `fields`; atomic and version-checked.

        `order` is an `Order` or an (account, order_id) pair. Without `expected_version` the
        move is checked against the table only (for broker verdicts, which are authoritative).
        """
        account, order_id = _ids(order)
        status = OrderStatus(status)
        return await self._run_transition(account, order_id, status.value, expected_version, None, fields)

    @_guard
    async def apply_fill(self, fill: Fill, **fields: object) -> TransitionResult:
        """Account one fill: filled quantity, average price, status, position; once per fill id."""
        return await self._run_transition(fill.account, fill.order_id, "", None, fill, fields)

    @_guard
    async def transition_batch(self, moves: Sequence[Move]) -> list[TransitionResult | NbexecError]:
        """Apply many transitions in one pipelined round trip, each atomic on its own.

        Results come back in order; a refused move yields its error in place of a result
        (one refusal does not stop the others).
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            for move in moves:
                account, order_id = _ids(move.order)
                keys, args = self._script_call(
                    account, order_id, OrderStatus(move.status).value, move.expected_version, None, move.fields
                )
                await self._transition(keys=keys, args=args, client=pipe)
            replies = await pipe.execute(raise_on_error=False)
        return [
            _script_error(_ids(m.order)[1], exc) if isinstance(exc := r, ResponseError) else _result(r)
            for m, r in zip(moves, replies, strict=True)
        ]

    async def _run_transition(
        self,
        account: str,
        order_id: str,
        status: str,
        expected: int | None,
        fill: Fill | None,
        fields: Mapping[str, object],
    ) -> TransitionResult:
        keys, args = self._script_call(account, order_id, status, expected, fill, fields)
        try:
            return _result(await self._transition(keys=keys, args=args))
        except ResponseError as exc:
            raise _script_error(order_id, exc) from None

    def _script_call(
        self,
        account: str,
        order_id: str,
        status: str,
        expected: int | None,
        fill: Fill | None,
        fields: Mapping[str, object],
    ) -> tuple[list[str], list[str | int]]:
        k = self.keys
        flat: list[str] = []
        for name, value in fields.items():
            flat += [
                name,
                value.value
                if isinstance(value, OrderStatus)
                else repr(value)
                if isinstance(value, float)
                else str(value),
            ]
        fill_args = (
            ["", "0", "0", "0"]
            if fill is None
            else [fill.fill_id, str(fill.quantity), repr(fill.price), repr(fill.quantity * fill.price)]
        )
        keys = [
            k.order(account, order_id),
            k.open_orders(account),
            k.events(account),
            k.positions(account),
            k.fills(account),
        ]
        args = [
            order_id,
            status,
            "" if expected is None else expected,
            k.channel(),
            self.stream_maxlen,
            time.time_ns(),
            time.monotonic_ns(),
            *fill_args,
            *flat,
        ]
        return keys, args

    # -- reads --------------------------------------------------------------------------
    @_guard
    async def get(self, account: str, order_id: str) -> Order:
        data = await self.redis.hgetall(self.keys.order(account, order_id))
        if not data:
            raise OrderNotFound(f"order_id={order_id!r}: no such order for account {account!r}")
        return order_from_fields(data)

    @_guard
    async def find_by_signal(self, account: str, signal_id: str) -> Order | None:
        order_id = await self.redis.get(self.keys.idempotency(account, signal_id))
        return None if order_id is None else await self.get(account, order_id)

    @_guard
    async def accounts(self) -> list[str]:
        return sorted(await self.redis.smembers(self.keys.accounts()))  # type: ignore[arg-type]

    @_guard
    async def open_orders(self, account: str) -> list[Order]:
        ids: list[str] = sorted(await self.redis.smembers(self.keys.open_orders(account)))  # type: ignore[arg-type]
        return await self._many(account, ids)

    @_guard
    async def orders(self, account: str) -> list[Order]:
        """Every order of the account that the event stream still remembers, oldest first."""
        ids = list(dict.fromkeys(e.order_id for e in await self.events(account)))
        return await self._many(account, ids)

    async def _many(self, account: str, ids: list[str]) -> list[Order]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for order_id in ids:
                pipe.hgetall(self.keys.order(account, order_id))
            rows = await pipe.execute()
        return [order_from_fields(row) for row in rows if row]

    @_guard
    async def positions(self, account: str) -> list[Position]:
        raw: dict[str, str] = await self.redis.hgetall(self.keys.positions(account))  # type: ignore[assignment]
        sums: dict[str, dict[str, str]] = {}
        for key, value in raw.items():
            instrument, _, leg = key.rpartition("|")
            sums.setdefault(instrument, {})[leg] = value
        return [
            Position(
                account,
                instrument,
                buy_quantity=int(v.get("buy_quantity", 0)),
                buy_value=float(v.get("buy_value", 0)),
                sell_quantity=int(v.get("sell_quantity", 0)),
                sell_value=float(v.get("sell_value", 0)),
            )
            for instrument, v in sorted(sums.items())
        ]

    @_guard
    async def events(self, account: str, start: str = "-", count: int | None = None) -> list[OrderEvent]:
        # (and XRANGE answers a list, if an empty one: redis-py's types allow for None)
        rows: list[tuple[str, dict[str, str]]]
        rows = await self.redis.xrange(self.keys.events(account), min=start, count=count)  # type: ignore[assignment]
        return [_event(stream_id, data) for stream_id, data in rows]

    async def replay(self, accounts: list[str] | None = None) -> list[OrderEvent]:
        """All accounts' events, merged in time order (each account's own order preserved)."""
        merged: list[OrderEvent] = []
        for account in accounts if accounts is not None else await self.accounts():
            merged += await self.events(account)
        merged.sort(key=lambda e: (e.ts, e.stream_id))
        return merged

    async def notifications(self) -> AsyncIterator[dict]:
        """Every order change as published, from this and any other process."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.keys.channel())
        try:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield json.loads(message["data"])
        finally:
            await pubsub.aclose()


def _ids(order: Order | tuple[str, str]) -> tuple[str, str]:
    return (order.account, order.order_id) if isinstance(order, Order) else order


def _result(reply: list) -> TransitionResult:
    version, status, flag = reply
    return TransitionResult(int(version), OrderStatus(status), flag == "DUPLICATE_FILL")


def _event(stream_id: str, data: dict[str, str]) -> OrderEvent:
    return OrderEvent(
        stream_id,
        data["order_id"],
        int(data["version"]),
        data["from"],
        data["to"],
        int(data["ts"]),
        json.loads(data["changes"]),
    )


def _script_error(order_id: str, exc: ResponseError) -> NbexecError:
    kind, *rest = str(exc).split()
    if kind == "NBEXEC_FORBIDDEN":
        return InvalidTransition(order_id, rest[0], rest[1])
    if kind == "NBEXEC_STALE":
        return StaleVersion(order_id, int(rest[0]), int(rest[1]))
    if kind == "NBEXEC_NOTFOUND":
        return OrderNotFound(f"order_id={order_id!r}: no such order")
    if kind == "NBEXEC_OVERFILL":
        return ValidationError("fill.quantity", rest[0], f"would fill {rest[0]} of an order for {rest[1]}")
    return NbexecError(f"order {order_id}: unexpected reply from the transition script: {exc}")
