"""Order state in Redis: atomic transitions, an event stream, pub/sub, and the embedded server."""

from .connection import connect, resolve_redis_url
from .order_store import OrderStore

__all__ = ["OrderStore", "connect", "resolve_redis_url"]
