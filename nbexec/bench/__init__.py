"""Scenarios for `nbexec bench`: each module measures one claim, ours and the alternative side by side."""
