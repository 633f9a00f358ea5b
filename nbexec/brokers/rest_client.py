"""The REST surface every adapter shares: httpx, the broker's envelope, reads retried.

httpx's CPU cost per request is fine for logins, books, positions and instrument dumps, not
for orders (docs/design.md, Latency rules): they go over `channel.OrderChannel` instead. Reads
are idempotent, so `get` retries timeouts, 5xx and 429 (`retry.Operation.READ`); `send` with
`operation=None` never retries (a login's request token works once). httpx failures become the
same `TransportError`s the lean transport raises, so callers handle one set of errors.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import httpx

from .retry import Operation, RateLimiter, RetryPolicy, call_with_retry
from .wire import ConnectFailed, ConnectionLost, RequestTimedOut

# (HTTP status, body bytes, content type) -> payload, or raise the mapped broker error.
Decode = Callable[[int, bytes, str], Any]


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every account's client: loading the CA bundle is slow,
    and 50 accounts x 2 routes each loading their own made it most of the engine's start, on
    the kernel's loop (figures: docs/performance.md, Figures behind design choices)."""
    return ssl.create_default_context()


class _Where(TypedDict):
    """Where a request went, as the transport errors take it."""

    host: str
    port: int
    broker: str


class RestClient:
    """One account's httpx client for `base_url`; `headers` carry its credentials.

    Header values are revealed into the httpx client once; the repr shows the URL only.
    Runs on the loop that calls `start()`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        broker: str,
        headers: Mapping[str, str],
        decode: Decode,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy = RetryPolicy(),
        timeout: float = 7.0,
    ) -> None:
        self.base_url, self.broker = base_url.rstrip("/"), broker
        self._headers, self._decode = dict(headers), decode
        self.limiter, self.policy, self.timeout = limiter, policy, timeout
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"RestClient({self.broker}, {self.base_url})"

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, headers=self._headers, timeout=self.timeout, verify=_tls_context()
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode; retried as a read."""
        return await self.send("GET", path, params=params, operation=Operation.READ)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        operation: Operation | None = None,
        raw: bool = False,
    ) -> Any:
        """One request, decoded (or its body bytes when `raw` and the status is 2xx)."""

        async def once() -> Any:
            response = await self._request(method, path, params, data)
            if raw and 200 <= response.status_code < 300:
                return response.content
            return self._decode(response.status_code, response.content, response.headers.get("content-type", ""))

        if operation is None:
            return await once()
        return await call_with_retry(operation, once, self.policy, limiter=self.limiter)

    async def _request(self, method: str, path: str, params, data) -> httpx.Response:
        if self._client is None:
            await self.start()
        host = httpx.URL(self.base_url)
        where: _Where = {"host": host.host, "port": host.port or 0, "broker": self.broker}
        try:  # (the client is set: start() just ran, or had before)
            return await self._client.request(method, path, params=params, data=data)  # type: ignore[union-attr]
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectFailed(f"{method} {path}: {exc}", **where) from None
        except httpx.PoolTimeout as exc:
            raise RequestTimedOut(
                f"{method} {path}: no free connection ({exc})", maybe_delivered=False, **where
            ) from None
        except httpx.TimeoutException as exc:
            raise RequestTimedOut(f"{method} {path}: {type(exc).__name__}", maybe_delivered=True, **where) from None
        except httpx.TransportError as exc:
            raise ConnectionLost(
                f"{method} {path}: {type(exc).__name__}: {exc}", maybe_delivered=True, **where
            ) from None
