"""The order path every adapter shares: place / modify / cancel bytes over a warm `ConnectionPool`.

Why eager: a fan-out wants "render all requests, write them all, then await all answers".
`OrderChannel.submit` runs the send synchronously up to its first real suspension
(`start_eagerly`), so when a token of the rate limiter is free and an idle warm connection
exists, the request's bytes are on the socket before `submit` returns. What is left is an
awaitable for the answer. Python 3.12 has eager tasks built in; this runs on 3.10+.

Retry contract (see `retry.py`): place and modify are sent again only when they provably never
left (connect failed, no connection, 429); once written, a timeout or reset raises
`OutcomeUnknown`. Cancels are retried on timeouts and 5xx too. Everything runs on the loop
that calls `submit` (the kernel's loop).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

from nbexec.core.errors import BrokerError, ConfigError

from .retry import Operation, RateLimiter, RetryPolicy, call_with_retry, next_delay
from .settings import Endpoint
from .transport import ConnectionPool
from .types import BrokerAck
from .wire import RequestTemplate, Response, TransportError

T = TypeVar("T")


# --------------------------------------------------------------------------- eager start


class _Resume:
    """Finishes a coroutine that already ran its first step outside any task."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, T], pending: Any) -> None:
        self.coro, self.pending = coro, pending

    def __await__(self) -> Generator[Any, Any, T]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                sent = yield pending  # the future the coroutine is blocked on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation reaches the coroutine as usual
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(resume: _Resume) -> Any:
    return await resume


def start_eagerly(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Run `coro` now, up to its first suspension, and return a future of its result.

    Like 3.12's eager tasks: work before the first suspension (rendering, the socket write)
    is done when this returns; the rest runs as a task on the running loop. Exceptions of the
    first step land in the returned future, not here.
    """
    loop = asyncio.get_running_loop()
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        done = loop.create_future()
        done.set_result(stop.value)
        return done
    except Exception as exc:
        failed = loop.create_future()
        failed.set_exception(exc)
        return failed
    return loop.create_task(_finish(_Resume(coro, pending)))


# --------------------------------------------------------------------------- the channel


class OrderChannel:
    """One account's order requests to one broker host, over a warm keep-alive pool.

    `pool`: share one pool among many accounts of the same host (the engine's fan-out); the
    channel then neither starts nor closes it beyond `start()`'s idempotent warm-up. Without
    it the channel owns a pool of `size` connections. `limiter` is the account's order-class
    limiter (every attempt takes a token); `timeout` bounds each request.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        broker: str,
        limiter: RateLimiter,
        policy: RetryPolicy = RetryPolicy(),
        pool: ConnectionPool | None = None,
        size: int = 2,
        timeout: float = 7.0,
    ) -> None:
        if pool is not None and (pool.host, pool.port) != (endpoint.host, endpoint.port):
            raise ConfigError(
                f"{broker}: shared pool goes to {pool.host}:{pool.port}, orders go to {endpoint.host}:{endpoint.port}"
            )
        self.endpoint, self.broker = endpoint, broker
        self.limiter, self.policy, self.timeout = limiter, policy, timeout
        self._owns_pool = pool is None
        self.pool = pool or ConnectionPool(
            endpoint.host,
            endpoint.port,
            size=size,
            broker=broker,
            request_timeout=timeout,
            ssl=ssl.create_default_context() if endpoint.tls else None,
        )

    async def start(self) -> None:
        """Open and warm the pool (idempotent; a shared pool is warmed once)."""
        await self.pool.start()

    async def close(self) -> None:
        if self._owns_pool:
            await self.pool.close()

    def submit(
        self,
        operation: Operation,
        template: RequestTemplate,
        body: bytes,
        decode: Callable[[Response], BrokerAck],
        path_suffix: bytes = b"",
        on_write: Callable[[], object] | None = None,
    ) -> asyncio.Future[BrokerAck]:
        """Write the request now if a token and a warm connection are free; await the result.

        The future's result is `decode(response)`; its exception is the mapped broker error,
        `OutcomeUnknown` (place / modify that may have landed) or a `TransportError`.
        `on_write` is called each time the request's bytes are written: cancelling the future
        before the first call withdraws a request that never left.

        The common case (token and idle connection free) costs no coroutine and no task: the
        bytes are written here and the answer is decoded in a callback of the response's
        future. Anything else (waiting for a token or a connection, a retry) runs in a task.
        """
        conn = self.pool.checkout_idle()
        if conn is not None:
            if self.limiter.try_acquire():
                try:
                    response = self.pool.dispatch(conn, template.render(body, path_suffix), self.timeout, on_write)
                except TransportError:
                    pass  # died while idle, never written: the slow path takes it from the top
                else:
                    return self._answer(response, operation, template, body, path_suffix, decode, on_write)
            else:
                self.pool.checkin(conn)
        return start_eagerly(self._send(operation, template, body, path_suffix, decode, on_write))

    def _answer(
        self,
        response: asyncio.Future[Response],
        operation: Operation,
        template: RequestTemplate,
        body: bytes,
        path_suffix: bytes,
        decode: Callable[[Response], BrokerAck],
        on_write: Callable[[], object] | None,
    ) -> asyncio.Future[BrokerAck]:
        """The decoded answer of a request written by `submit`; a retry the policy allows
        continues in a task (after its delay) and settles the same future."""
        answer: asyncio.Future[BrokerAck] = response.get_loop().create_future()

        def settle(done: asyncio.Future[Response]) -> None:
            if answer.done():
                return
            try:
                answer.set_result(decode(done.result()))
            except BrokerError as error:
                try:
                    delay = next_delay(operation, error, 1, self.policy)
                except BaseException as final:
                    answer.set_exception(final)
                    return
                retry = asyncio.ensure_future(
                    self._send(operation, template, body, path_suffix, decode, on_write, attempt=1, delay=delay)
                )
                answer.add_done_callback(lambda a: retry.cancel() if a.cancelled() else None)
                retry.add_done_callback(lambda r: _copy_outcome(r, answer))
            except asyncio.CancelledError:
                answer.cancel()
            except BaseException as exc:  # the caller gets it from the future
                answer.set_exception(exc)

        response.add_done_callback(settle)
        answer.add_done_callback(lambda a: response.cancel() if a.cancelled() else None)
        return answer

    async def _send(
        self,
        operation: Operation,
        template: RequestTemplate,
        body: bytes,
        path_suffix: bytes,
        decode: Callable[[Response], BrokerAck],
        on_write: Callable[[], object] | None,
        attempt: int = 0,
        delay: float = 0.0,
    ) -> BrokerAck:
        async def once() -> BrokerAck:
            response = await self.pool.request(
                template, body, path_suffix=path_suffix, timeout=self.timeout, on_write=on_write
            )
            return decode(response)

        if delay:
            await asyncio.sleep(delay)
        return await call_with_retry(operation, once, self.policy, limiter=self.limiter, attempt=attempt)


def _copy_outcome(source: asyncio.Future[T], target: asyncio.Future[T]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())
