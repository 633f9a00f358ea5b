"""`%oms` and `%%oms`: each parsed `Command` run against the kernel's engine.

The magic is synchronous (IPython calls it inside the running cell), so each command is a
coroutine driven by `sync.run` on the kernel's loop: the loop keeps serving the engine, the feeds
and the widgets while the cell waits. At this boundary every `NbexecError` (bad input, engine not
running, an unknown symbol, a refused signal) becomes an IPython `UsageError` with nbexec's own
message: the user sees one line saying what to do, never a traceback from inside nbexec.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import HTML, display

from ..core.errors import NbexecError
from ..core.states import TERMINAL
from ..engine.fanout import FanOut
from ..engine.oms import OMS
from . import sync
from .desk import Desk
from .grammar import Command, parse_cell, parse_line
from .latency import latency_html
from .logs import RECENT
from .prices import PriceTiles
from .progress import FanOutProgress
from .session import session
from .ticket import OrderTicket


@magics_class
class OmsMagics(Magics):
    @line_cell_magic
    def oms(self, line: str, cell: str | None = None) -> Any:
        """Trade from the notebook: `%oms help` lists the commands, `%oms COMMAND --help` explains one."""
        try:
            if cell is None:
                return sync.run(self.execute(parse_line(line)))
            if line.strip():
                raise UsageError(f"%%oms takes no arguments (got {line.strip()!r}): put one buy / sell per line")
            return sync.run(self.basket(parse_cell(cell)))
        except NbexecError as exc:
            raise UsageError(str(exc)) from None

    async def execute(self, command: Command) -> Any:
        """Run one command on the kernel's loop; what it returns is the cell's value."""
        args, verb = dict(command.args), command.verb
        if verb == "help":
            print(args["text"])
            return None
        if verb == "start":
            return await self._start(args)
        if verb == "stop":
            return await self._stop()
        if verb == "status":
            return status(session().oms)
        oms = session().require()
        if verb == "order":
            return _show_progress(
                oms.fire(args.pop("symbol"), args.pop("side"), args.pop("quantity"), **order_arguments(args))
            )
        if verb == "target":
            return _show_progress(await oms.target(args["symbol"], args["quantity"], accounts=args["accounts"]))
        if verb == "subscribe":
            feed = await oms.subscribe(*args["symbols"])  # full mode, back once each symbol has ticked
            display(PriceTiles(feed, list(args["symbols"])))
            return feed
        if verb == "cancel":
            cancelled = await oms.cancel(args["order_id"])
            print(f"cancel requested for {len(cancelled)} order(s)")
            return None
        if verb == "kill":
            cancelled = await oms.kill()
            print(f"kill switch ON: new orders are refused; cancel requested for {len(cancelled)} open order(s)")
            return None
        if verb == "unkill":
            await oms.unkill()
            print("kill switch OFF: orders allowed again")
            return None
        if verb == "busy-poll":
            oms.busy_poll = args["on"]
            period = oms.rehearse_every_s
            rehearsals = f"armed signals rehearsed every {period * 1e3:g} ms" if period else "rehearsals off"
            print(
                f"busy polling ON: the loop polls instead of sleeping, {rehearsals}; one CPU core stays busy "
                "(%oms busy-poll off)"
                if args["on"]
                else "busy polling off"
            )
            return None
        return self._view(oms, verb)

    def _view(self, oms: OMS, verb: str) -> Any:
        if verb == "accounts":
            return accounts_df(oms)
        if verb == "orders":
            return oms.orders_df()
        if verb == "fills":
            return oms.fills_df()
        if verb == "positions":
            return oms.positions_df()
        if verb == "latency":
            display(HTML(latency_html(oms.orders.values())))
            return oms.latency_df()
        if verb == "blotter":
            return Desk(oms, session().hub)  # type: ignore[arg-type]  # started with the engine
        if verb == "ticket":
            subscribed = [s for feed in reversed(oms.feeds) for s in feed.instruments]
            return OrderTicket(oms, symbol=subscribed[0] if subscribed else None)
        raise AssertionError(f"grammar verb {verb!r} has no handler")

    async def _start(self, args: dict) -> None:
        oms, started = await session().start(args.get("config"), accounts=args.get("accounts"))
        self.shell.user_ns["oms"] = oms  # type: ignore[union-attr]  # registered magics have a shell
        if started:
            print(f"nbexec engine started: {describe(oms)}; `oms` is the engine\nrecovery: {oms.recovery!r}")
        else:
            print(f"nbexec engine already running: {describe(oms)} (%oms stop first to start it differently)")

    async def _stop(self) -> None:
        oms = session().oms
        stopped = await session().stop()
        user_ns = self.shell.user_ns  # type: ignore[union-attr]  # registered magics have a shell
        if oms is not None and user_ns.get("oms") is oms:
            del user_ns["oms"]
        print(
            "nbexec engine stopped (orders and positions stay in Redis)" if stopped else "nbexec engine is not running"
        )

    async def basket(self, commands: list[Command]) -> list[FanOut]:
        """One signal per line; every symbol is checked before the first order goes out."""
        oms = session().require()
        for number, command in enumerate(commands, 1):
            try:
                oms.instrument(command.args["symbol"])
            except NbexecError as exc:
                raise UsageError(f"line {number}: {exc}; nothing was sent") from None
        fanouts: list[FanOut] = []
        for number, command in enumerate(commands, 1):
            args = dict(command.args)
            try:
                fanouts.append(
                    oms.fire(args.pop("symbol"), args.pop("side"), args.pop("quantity"), **order_arguments(args))
                )
            except NbexecError as exc:
                sent = f"lines 1-{number - 1} were sent" if number > 1 else "nothing was sent"
                raise UsageError(f"line {number}: {exc}; {sent}") from None
        display(FanOutProgress(fanouts))
        return fanouts


def order_arguments(args: dict) -> dict:
    """A parsed buy / sell line's options as `oms.fire` keyword arguments."""
    kwargs = {
        "accounts": args.get("accounts", "all"),
        "order_type": args.get("order_type") or ("LIMIT" if "limit" in args else "MARKET"),
    }
    for option, name in (
        ("limit", "price"),
        ("trigger", "trigger_price"),
        ("max_slippage_bps", "max_slippage_bps"),
        ("product", "product"),
        ("validity", "validity"),
        ("tag", "signal_id"),
    ):
        if option in args:
            kwargs[name] = args[option]
    return kwargs


def _show_progress(fanout: FanOut) -> FanOut:
    display(FanOutProgress(fanout))
    return fanout


def describe(oms: OMS) -> str:
    kind = "paper exchange" if oms.paper_info else "live brokers"
    ids = list(oms.accounts)
    shown = ", ".join(ids[:3]) + (f" ... {ids[-1]}" if len(ids) > 3 else "")
    killed = "; KILL SWITCH ON" if oms.killed else ""
    return f"{kind}, {len(ids)} accounts ({shown}), {len(oms.instruments)} instruments{killed}"


def status(oms: OMS | None) -> pd.Series:
    """What is running, without any secret: engine, Redis, kill switch, orders, feeds."""
    if oms is None:
        return pd.Series({"engine": "not running (%oms start)"}, name="nbexec")
    open_orders = sum(1 for o in oms.orders.values() if o.status not in TERMINAL)
    return pd.Series(
        {
            "engine": "running",
            "brokers": describe(oms),
            "redis": "ok" if oms.redis_ok else "UNREACHABLE",
            "kill switch": "ON" if oms.killed else "off",
            "busy poll": "ON" if oms.busy_poll else "off",
            "orders (session)": len(oms.orders),
            "open orders": open_orders,
            "fills (session)": len(oms.fills),
            "feeds": len(oms.feeds),
            "paper admin": (oms.paper_info or {}).get("admin", ""),
            "last warning": RECENT.records[-1] if RECENT.records else "",
        },
        name="nbexec",
    )


def accounts_df(oms: OMS) -> pd.DataFrame:
    rows = [
        {
            "account": a.id,
            "groups": ", ".join(a.groups),
            "sizing": str(a.sizing),
            "routes": ", ".join(r.name for r in a.routes),
            "capital": a.capital,
        }
        for a in oms.accounts.values()
    ]
    return pd.DataFrame(rows).set_index("account")
