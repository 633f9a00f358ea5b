"""Which Redis to use, and clients that fail fast instead of hanging.

`NBEXEC_REDIS_URL` (redis://, rediss://, unix://, with a password if needed) selects an
external server; without it nbexec starts (or reuses) the embedded one.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .embedded import EmbeddedRedis

DEFAULT_TIMEOUT_S = 1.0


def resolve_redis_url(embedded: EmbeddedRedis | None = None) -> str:
    """The configured URL, or the embedded server's (started if needed)."""
    url = os.environ.get("NBEXEC_REDIS_URL")
    if url:
        return url
    return (embedded or EmbeddedRedis.default()).start()


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT_S, max_connections: int = 64, **kwargs) -> aioredis.Redis:
    """A client whose every call fails within about `timeout` when Redis is down.

    No client-side retries: the store maps the first failure to `StoreUnavailable`, and the
    connection pool reconnects on the next call once Redis is back. The pool blocks (up to
    `timeout`) when all `max_connections` are busy, so a burst of 100 concurrent transitions
    queues for a connection instead of failing.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        max_connections=max_connections,
        timeout=timeout,
        **kwargs,
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: closing the client closes its sockets


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and `nbexec doctor`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
