"""Engine configuration: typed, read once, validated up front.

A TOML file names the accounts, their sizing, groups and routes, the risk limits and the Redis
key prefix. Secrets never live in the file: a route names the environment variable that holds
each one (`access_token_env = "ZK01_ACCESS_TOKEN"`), and the value is held as a `Secret`.
With no file at all, nbexec trades against the built-in paper exchange (`PaperConfig`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, ValidationError
from ..core.secrets import Secret
from ..risk.limits import RiskLimits
from .sizing import SizingRule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class RouteConfig:
    """One way to reach an account: a broker and its settings; `secrets` resolved from env."""

    broker: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, Secret]
    name: str = ""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> RouteConfig:
        # Imported here, not at the top: the registry imports every adapter and pandas, and
        # `import nbexec.engine.config` alone (the notebook runner does it) stays light.
        from ..brokers import registry

        raw = dict(raw)
        broker = raw.pop("broker", None)
        registry.factory(broker, f"{where}.broker")
        name = str(raw.pop("name", broker))
        secrets: dict[str, Secret] = {}
        for key in [k for k in raw if k.endswith("_env")]:
            var = raw.pop(key)
            value = os.environ.get(str(var))
            if not value:
                raise ConfigError(f"{where}.{key}: environment variable {var!r} is not set")
            secrets[key[:-4]] = Secret(value)
        for key in ("access_token", "api_secret", "password"):
            if key in raw:
                raise ValidationError(
                    f"{where}.{key}", "***", f'secrets do not belong in the file: use {key}_env = "VARIABLE"'
                )
        return cls(broker, raw, secrets, name)


@dataclass(frozen=True)
class AccountConfig:
    id: str
    routes: tuple[RouteConfig, ...]
    sizing: SizingRule = field(default_factory=lambda: SizingRule.from_config({"multiplier": 1}))
    groups: tuple[str, ...] = ()
    capital: float | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], index: int) -> AccountConfig:
        where = f"accounts[{index}]"
        unknown = set(raw) - {"id", "routes", "sizing", "groups", "capital"}
        if unknown:
            raise ValidationError(where, sorted(unknown), "unknown keys")
        account_id = raw.get("id")
        if not isinstance(account_id, str) or not account_id:
            raise ValidationError(f"{where}.id", account_id, "must be a non-empty string")
        routes = raw.get("routes") or []
        if not routes:
            raise ValidationError(f"{where}.routes", routes, "an account needs at least one route")
        return cls(
            id=account_id,
            routes=tuple(RouteConfig.from_mapping(r, f"{where}.routes[{i}]") for i, r in enumerate(routes)),
            sizing=SizingRule.from_config(raw.get("sizing", {"multiplier": 1})),
            groups=tuple(raw.get("groups", ())),
            capital=raw.get("capital"),
        )


@dataclass(frozen=True)
class PaperConfig:
    """The built-in paper exchange: how many accounts, which seed, how fast it ticks."""

    accounts: int = 5
    seed: int = 7
    tick_rate: float = 10.0
    capital: float = 10_000_000.0
    order_timeout_s: float = 7.0  # per order request, as the brokers' SDKs default


@dataclass(frozen=True)
class EngineConfig:
    accounts: tuple[AccountConfig, ...] = ()
    risk: RiskLimits = field(default_factory=RiskLimits)
    prefix: str = "nbexec"
    paper: PaperConfig | None = None

    def __post_init__(self) -> None:
        if not self.accounts and self.paper is None:
            raise ConfigError("no accounts configured and no [paper] exchange: nothing to trade with")
        ids = [a.id for a in self.accounts]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationError("accounts.id", duplicates, "account ids must be unique")

    @classmethod
    def paper_default(cls, accounts: int = 5) -> EngineConfig:
        return cls(paper=PaperConfig(accounts=accounts))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> EngineConfig:
        unknown = set(raw) - {"accounts", "risk", "engine", "paper"}
        if unknown:
            raise ValidationError("config", sorted(unknown), "unknown sections")
        engine = dict(raw.get("engine", {}))
        paper = raw.get("paper")
        return cls(
            accounts=tuple(AccountConfig.from_mapping(a, i) for i, a in enumerate(raw.get("accounts", []))),
            risk=RiskLimits.from_config(raw.get("risk", {})),
            prefix=str(engine.pop("prefix", "nbexec")),
            paper=PaperConfig(**paper) if paper is not None else None,
        )

    @classmethod
    def load(cls, path: str | Path) -> EngineConfig:
        try:
            with open(path, "rb") as f:
                return cls.from_mapping(tomllib.load(f))
        except OSError as exc:
            raise ConfigError(f"config file {str(path)!r}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r}: {exc}") from None
