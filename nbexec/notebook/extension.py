"""`%load_ext nbexec`: registers the `%oms` / `%%oms` magics in the running IPython shell.

Loading starts nothing; `%oms start` does. It also routes nbexec's log records away from cell
outputs (see `logs`). Unloading removes the magics and leaves a running
engine alone (so `%reload_ext nbexec` does not interrupt trading); `%oms stop` stops it.
"""

from __future__ import annotations

from . import logs
from .magics import OmsMagics


def load_ipython_extension(ipython) -> None:
    logs.install()
    ipython.register_magics(OmsMagics)


def unload_ipython_extension(ipython) -> None:
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("oms", None)
