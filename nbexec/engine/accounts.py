"""Accounts at run time: sizing, groups, capital and the routes (brokers) that reach them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..brokers.base import OrderRoute
from ..core.errors import ValidationError
from .routing import Route
from .sizing import SizingRule


@dataclass
class Account:
    id: str
    sizing: SizingRule
    routes: list[Route]
    brokers: dict[str, OrderRoute]  # route name -> the broker adapter behind it
    groups: tuple[str, ...] = ()
    capital: float | None = None
    info: dict = field(default_factory=dict)


def select_accounts(accounts: Mapping[str, Account], spec: str | Sequence[str]) -> list[Account]:
    """`"all"`, a group name, an account id, or a list of ids -> the accounts, in config order."""
    if isinstance(spec, str):
        if spec == "all":
            return list(accounts.values())
        members = [a for a in accounts.values() if spec in a.groups]
        if members:
            return members
        spec = [spec]
    unknown = [name for name in spec if name not in accounts]
    if unknown:
        groups = sorted({g for a in accounts.values() for g in a.groups})
        shown = f"{', '.join(list(accounts)[:5])}{'...' if len(accounts) > 5 else ''}"
        raise ValidationError(
            "accounts", unknown, f"no such account or group (accounts: {shown}; groups: {', '.join(groups) or 'none'})"
        )
    if len(spec) == 1:  # one account: no scan of the whole book (a strategy's usual call)
        (name,) = spec
        return [accounts[name]]
    chosen = set(spec)
    return [a for a in accounts.values() if a.id in chosen]
