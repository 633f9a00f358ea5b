"""The `%oms` language, parsed without IPython: a line in, a `Command` or a `MagicUsageError` out.

Pure, so every line a user can type is fuzzed in tests: nothing but a Command or a usage
error with a message ever comes out.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field

from ..core.errors import NbexecError
from ..core.instruments import parse_instrument_key
from ..core.orders import OrderType, Product, Validity


class MagicUsageError(NbexecError):
    """A magic line that cannot be run; the message says what to type instead."""


@dataclass(frozen=True)
class Command:
    verb: str
    args: dict = field(default_factory=dict)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting the kernel."""

    def error(self, message: str):
        raise MagicUsageError(f"%oms {self.prog.split()[-1]}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):
        raise MagicUsageError(message or "")


def _quantity(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise argparse.ArgumentTypeError(f"quantity {text!r} is not a whole number")
    return int(text)


def _positive_quantity(text: str) -> int:
    value = _quantity(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"quantity {text!r} must be positive")
    return value


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"price {text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"price {text!r} must be a positive number")
    return value


def _bps(text: str) -> float:
    """`20`, `20bps` or `0.2%` -> 20.0 basis points."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(bps|%)?", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"slippage {text!r}: use basis points like 20, 20bps or 0.2%")
    value = float(m.group(1)) * (100 if m.group(2) == "%" else 1)
    if value > 10_000:
        raise argparse.ArgumentTypeError(f"slippage {text!r} is more than 100%")
    return value


def _symbol(text: str) -> str:
    try:
        exchange, symbol = parse_instrument_key(text)
    except NbexecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return f"{exchange}:{symbol}"


def _accounts(text: str) -> str | list[str]:
    """`all`, a group name, or `ID,ID,...`."""
    parts = [p.strip() for p in text.split(",")]
    if not all(re.fullmatch(r"[A-Za-z0-9_.-]+", p) for p in parts):
        raise argparse.ArgumentTypeError(f"accounts {text!r}: use all, a group name, or ID,ID,...")
    return parts[0] if len(parts) == 1 else parts


def _on_off(text: str) -> bool:
    if text.lower() not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: say on or off")
    return text.lower() == "on"


def _choice(enum):
    names = {m.value: m.value for m in enum}

    def parse(text: str) -> str:
        value = text.upper()
        if value not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return value

    return parse


def _build() -> dict[str, _Parser]:
    parsers: dict[str, _Parser] = {}

    def sub(verb: str, help_text: str) -> _Parser:
        p = _Parser(prog=f"%oms {verb}", description=help_text, add_help=False)
        p.add_argument("--help", "-h", action="store_true", help="show this help")
        parsers[verb] = p
        return p

    start = sub("start", "start the OMS in this kernel (no config: paper exchange + embedded Redis)")
    start.add_argument("--config", help="TOML config file with accounts and risk limits")
    start.add_argument("--accounts", type=_positive_quantity, help="paper accounts to create (paper mode)")
    for verb, text in (
        ("stop", "stop the OMS (orders and state stay in Redis)"),
        ("status", "engine, Redis, broker connections and kill switch"),
        ("accounts", "accounts with their sizing and routes"),
        ("orders", "orders as a DataFrame"),
        ("fills", "fills as a DataFrame"),
        ("positions", "positions and P&L as a DataFrame"),
        ("latency", "latency percentiles per hop and a histogram"),
        ("kill", "kill switch ON: block new orders, cancel open ones"),
        ("unkill", "kill switch OFF"),
        ("blotter", "the live order blotter widget"),
        ("ticket", "an order ticket widget"),
    ):
        sub(verb, text)
    subscribe = sub("subscribe", "stream ticks for symbols into DataFrames")
    subscribe.add_argument("symbols", nargs="+", type=_symbol, metavar="SYMBOL")
    for side in ("buy", "sell"):
        p = sub(side, f"{side} SYMBOL QTY: one signal, fanned out to the chosen accounts")
        p.add_argument("symbol", type=_symbol)
        p.add_argument("quantity", type=_positive_quantity)
        p.add_argument("--limit", type=_price, help="limit price (default: protected market order)")
        p.add_argument("--trigger", type=_price, help="trigger price for SL / SL-M")
        p.add_argument("--type", dest="order_type", type=_choice(OrderType), help="MARKET, LIMIT, SL, SL-M")
        p.add_argument(
            "--slippage",
            "--limit-slippage",
            dest="max_slippage_bps",
            type=_bps,
            help="protection band for market orders, e.g. 20bps",
        )
        p.add_argument("--accounts", type=_accounts, default="all", help="all, GROUP, or ID,ID")
        p.add_argument("--product", type=_choice(Product), help="CNC, MIS, NRML")
        p.add_argument("--validity", type=_choice(Validity), help="DAY or IOC")
        p.add_argument("--tag", help="signal id (idempotency: the same tag never trades twice)")
    target = sub("target", "target SYMBOL QTY: trade each account to this position")
    target.add_argument("symbol", type=_symbol)
    target.add_argument("quantity", type=_quantity)
    target.add_argument("--accounts", type=_accounts, default="all")
    cancel = sub("cancel", "cancel ID|all")
    cancel.add_argument("order_id", metavar="ID|all")
    poll = sub(
        "busy-poll", "busy-poll on|off: poll instead of sleeping and keep armed signals warm (a CPU core stays busy)"
    )
    poll.add_argument("on", type=_on_off, metavar="on|off")
    return parsers


_PARSERS = _build()
VERBS = tuple(_PARSERS)


def usage() -> str:
    width = max(map(len, VERBS))
    return "usage: %oms COMMAND [ARGS] [--help]\n" + "\n".join(
        f"  {verb:<{width}}  {p.description}" for verb, p in _PARSERS.items()
    )


def parse_line(line: str) -> Command:
    """Parse one `%oms` line (without the `%oms`)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise MagicUsageError(f"%oms: cannot split {line!r}: {exc}") from None
    if not words or words[0] in ("--help", "-h", "help"):
        return Command("help", {"text": usage()})
    verb = words[0].lower()
    parser = _PARSERS.get(verb)
    if parser is None:
        raise MagicUsageError(f"%oms: unknown command {words[0]!r}\n{usage()}")
    if "--help" in words[1:] or "-h" in words[1:]:
        return Command("help", {"text": parser.format_help()})
    ns = vars(parser.parse_args(words[1:]))
    ns.pop("help")
    if verb in ("buy", "sell"):
        ns["side"] = verb.upper()
        if ns["trigger"] and ns["order_type"] not in ("SL", "SL-M"):
            raise MagicUsageError(f"%oms {verb}: --trigger needs --type SL or SL-M")
        if ns["order_type"] == "LIMIT" and ns["limit"] is None:
            raise MagicUsageError(f"%oms {verb}: --type LIMIT needs --limit PRICE")
        verb = "order"
    return Command(verb, {k: v for k, v in ns.items() if v is not None})


def parse_cell(cell: str) -> list[Command]:
    """A `%%oms` basket: one buy / sell per non-empty, non-comment line."""
    commands = []
    for number, raw in enumerate(cell.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            command = parse_line(line)
        except MagicUsageError as exc:
            raise MagicUsageError(f"line {number}: {exc}") from None
        if command.verb != "order":
            raise MagicUsageError(f"line {number}: a %%oms basket holds buy / sell lines only, got {raw.strip()!r}")
        commands.append(command)
    if not commands:
        raise MagicUsageError("%%oms: the basket is empty; write one 'buy|sell SYMBOL QTY [...]' per line")
    return commands
