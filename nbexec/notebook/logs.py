"""Where nbexec's log records go in a kernel: never into whichever cell happens to be running.

Without a handler, Python's last-resort handler writes warnings to `sys.stderr`, which ipykernel
routes to the cell executing at that moment: an engine warning from a background task (a refused
cancel, a lost connection) would appear under an unrelated cell. Loading the extension gives the
`nbexec` logger its own handler writing to the kernel process's real stderr (the Jupyter server's
console) and keeps the latest records for `%oms status`. Only warnings and errors are shown
unless the user asks for more: `logging.getLogger("nbexec").setLevel(logging.INFO)`.
"""

from __future__ import annotations

import logging
import sys
from collections import deque

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RecentRecords(logging.Handler):
    """The last `size` records at WARNING or above, formatted."""

    def __init__(self, size: int = 20) -> None:
        super().__init__(logging.WARNING)
        self.records: deque[str] = deque(maxlen=size)
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


RECENT = RecentRecords()


def install() -> None:
    """Route the `nbexec` logger away from cell outputs (idempotent)."""
    logger = logging.getLogger("nbexec")
    if RECENT in logger.handlers:
        return
    console = logging.StreamHandler(sys.__stderr__)
    console.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(console)
    logger.addHandler(RECENT)
    logger.propagate = False
    if logger.level == logging.NOTSET:  # routine INFO (each feed connecting, per account and route)
        logger.setLevel(logging.WARNING)  # stays out unless the user raises the level
