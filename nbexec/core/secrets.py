"""A masked string type for API keys and tokens, so they never leak into reprs or logs."""

from __future__ import annotations


class Secret:
    """Holds a credential; `str()`, `repr()` and formatting show only a mask.

    Call `reveal()` at the one place that must put the value on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling must not be a side door either
        raise TypeError("Secret values cannot be pickled")
