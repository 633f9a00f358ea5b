"""The zero-config broker: the paper exchange as a detached `nbexec sim` process.

Detached (its own session) because a broker outlives the kernel that trades with it: when the
kernel crashes and `%oms start` runs again, the same exchange, with the same order book, is
there to reconcile against. Its info line (URLs, paper credentials) is kept in the data dir
with owner-only permissions and reused while the process answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BrokerUnavailable
from ..store.embedded import wait_gone
from .config import PaperConfig


@dataclass
class PaperSupervisor:
    data_dir: Path
    config: PaperConfig

    @property
    def info_path(self) -> Path:
        return Path(self.data_dir) / "paper.json"

    def _saved(self) -> dict | None:
        try:
            saved = json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return None
        return saved if saved.get("config") == self._config_key() else None

    def _config_key(self) -> list:
        c = self.config
        return [c.accounts, c.seed, c.tick_rate]

    @staticmethod
    def _alive(saved: dict) -> bool:
        try:
            os.kill(saved["pid"], 0)
            with urllib.request.urlopen(saved["info"]["admin"] + "/counters", timeout=1) as r:
                return r.status == 200
        except (OSError, KeyError, ValueError):
            return False

    def start(self, timeout: float = 20.0) -> dict:
        """The running exchange's info (URLs, accounts), starting one if none answers."""
        saved = self._saved()
        if saved and self._alive(saved):
            return saved["info"]
        self.stop()
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        log = open(Path(self.data_dir) / "paper.log", "ab")
        c = self.config
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nbexec.cli.main",
                "sim",
                "--accounts",
                str(c.accounts),
                "--seed",
                str(c.seed),
                "--tick-rate",
                str(c.tick_rate),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            if proc.poll() is not None:
                raise BrokerUnavailable(
                    f"paper exchange exited with code {proc.returncode}; see {Path(self.data_dir) / 'paper.log'}",
                    broker="paper",
                )
            line += proc.stdout.readline()  # type: ignore[union-attr]  # stdout=PIPE: a file
        proc.stdout.close()  # type: ignore[union-attr]
        info = json.loads(line)
        fd = os.open(self.info_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": proc.pid, "config": self._config_key(), "info": info}, f)
        return info

    def stop(self) -> None:
        """Stop the exchange this data dir knows of (its book is gone with it)."""
        try:
            pid = json.loads(self.info_path.read_text())["pid"]
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid, 5.0)
        except (OSError, KeyError, ValueError):
            pass
        self.info_path.unlink(missing_ok=True)
