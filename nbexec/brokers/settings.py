"""A broker's typed config from a mapping or the environment, validated up front; its endpoint.

Each broker's `config.py` declares a frozen dataclass plus `SECRETS` (fields wrapped in
`Secret`, so reprs, logs and exceptions show `***`) and `ENV_PREFIX` (field `api_key` is read
from `<ENV_PREFIX>API_KEY`). Errors name the field and the reason, never a secret's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, fields
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

from nbexec.core.errors import ConfigError
from nbexec.core.secrets import Secret

from .wire import RequestTemplate


class BrokerConfig(Protocol):
    """A broker's config as this module reads it: a dataclass with `SECRETS` and `ENV_PREFIX`."""

    SECRETS: ClassVar[tuple[str, ...]]
    ENV_PREFIX: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]


C = TypeVar("C", bound=BrokerConfig)
_CASTS = {"int": int, "float": float, "str": str}


def env_names(cls: type[BrokerConfig]) -> dict[str, str]:
    """Field name -> environment variable, e.g. api_key -> NBEXEC_KITE_API_KEY."""
    return {f.name: f"{cls.ENV_PREFIX}{f.name.upper()}" for f in fields(cls)}


def wrap_secrets(config: BrokerConfig) -> None:
    """In a frozen config's `__post_init__`: plain strings given for secret fields become `Secret`s."""
    for name in type(config).SECRETS:
        value = getattr(config, name)
        if value is not None and not isinstance(value, Secret):
            object.__setattr__(config, name, Secret(value))


def from_mapping(cls: type[C], data: Mapping[str, Any]) -> C:
    """`cls(**data)` with secrets wrapped, numbers cast and unknown or missing keys refused."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown setting(s) {unknown}; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in data or data[name] is None or data[name] == "":
            if f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError(f"{cls.__name__}.{name}: required (env {env_names(cls)[name]})")
            continue
        value = data[name]
        if name in cls.SECRETS:
            values[name] = Secret(value)
            continue
        cast = _CASTS.get(str(f.type).split(" | ")[0])
        try:
            values[name] = cast(value) if cast else value
        except (TypeError, ValueError):
            raise ConfigError(f"{cls.__name__}.{name}={value!r}: must be {f.type}") from None
    return cls(**values)


def from_env(cls: type[C], environ: Mapping[str, str] | None = None) -> C:
    """The config from `<ENV_PREFIX>*` environment variables (see `env_names`)."""
    environ = os.environ if environ is None else environ
    return from_mapping(cls, {name: environ[var] for name, var in env_names(cls).items() if var in environ})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a broker's REST root lives, split the way the lean transport needs it."""

    host: str
    port: int
    tls: bool
    host_header: str  # what goes in the Host header (no default port)
    prefix: str  # path prefix kept on every request ("" for Kite, "/v2" for Dhan)

    @classmethod
    def parse(cls, url: str, *, keep_path: bool = True) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"rest url {url!r}: expected http(s)://host[:port][/path]")
        tls = parts.scheme == "https"
        default = 443 if tls else 80
        port = parts.port or default
        header = parts.hostname if port == default else f"{parts.hostname}:{port}"
        prefix = parts.path.rstrip("/") if keep_path else ""
        return cls(parts.hostname, port, tls, header, prefix)

    def template(
        self, method: str, path: str, headers: Mapping[str, Any], *, content_type: str | None
    ) -> RequestTemplate:
        """A lean-transport request template for `path` under this endpoint's prefix."""
        return RequestTemplate(method, self.prefix + path, self.host_header, headers=headers, content_type=content_type)
