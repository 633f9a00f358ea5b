"""The store's Lua scripts, with the transition table generated from `nbexec.core.states`.

The table is rendered into the script text at import, so the rule Redis enforces is the
same object Python checks: there is no second copy to drift.
"""

from __future__ import annotations

from importlib.resources import files

from ..core.states import TERMINAL, TRANSITIONS


def _lua_set(names) -> str:
    return "{" + ", ".join(f"['{n}'] = true" for n in sorted(names)) + "}"


def _render(script: str) -> str:
    """The script's text with the transition table and the terminal states filled in."""
    allowed = (
        "{" + ", ".join(f"['{s.value}'] = {_lua_set(n.value for n in nxt)}" for s, nxt in TRANSITIONS.items()) + "}"
    )
    text = files(__package__).joinpath(f"lua/{script}").read_text()
    return text.replace("__ALLOWED__", allowed).replace("__TERMINAL__", _lua_set(s.value for s in TERMINAL))


CREATE_SCRIPT = _render("create.lua")
TRANSITION_SCRIPT = _render("transition.lua")
