"""Instrument dumps cached on disk, one file per broker per trading day.

Brokers publish their instrument lists once a day (Kite around 08:00 IST), so a dump fetched
today is good all day: `daily` reads `<dir>/<name>-<YYYY-MM-DD>.csv` (IST date) when it
exists, else fetches, writes it atomically (temp file + rename) and deletes older days'
files. When the fetch fails and an older file exists, that one is used with a warning: a
stale list beats none at 09:15. File I/O runs in a worker thread, never on the loop.
The directory defaults to `<nbexec data dir>/instruments`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from nbexec.core.errors import NbexecError

log = logging.getLogger(__name__)
IST = timezone(timedelta(hours=5, minutes=30))


def ist_today() -> date:
    return datetime.now(IST).date()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    if path is not None:
        return Path(path)
    from nbexec.store.embedded import default_data_dir

    return default_data_dir() / "instruments"


def _read_cached(directory: Path, name: str, today: date) -> tuple[bytes | None, Path | None]:
    """(today's bytes or None, the newest older file or None)."""
    path = directory / f"{name}-{today.isoformat()}.csv"
    if path.exists():
        return path.read_bytes(), path
    older = sorted(directory.glob(f"{name}-*.csv"))
    return None, (older[-1] if older else None)


def _write(directory: Path, name: str, today: date, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{today.isoformat()}.csv"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    for old in directory.glob(f"{name}-*.csv"):
        if old != path:
            old.unlink(missing_ok=True)


async def daily(
    name: str,
    fetch: Callable[[], Awaitable[bytes]],
    *,
    directory: str | os.PathLike | None = None,
    today: date | None = None,
) -> bytes:
    """Today's dump of `name`: from the cache, else from `fetch()` (then cached)."""
    where = cache_dir(directory)
    today = today or ist_today()
    data, older = await asyncio.to_thread(_read_cached, where, name, today)
    if data is not None:
        return data
    try:
        data = await fetch()
    except NbexecError as exc:
        if older is None:
            raise
        log.warning("%s: fetching today's instrument list failed (%s); using %s", name, exc, older.name)
        return await asyncio.to_thread(older.read_bytes)
    await asyncio.to_thread(_write, where, name, today, data)
    return data
