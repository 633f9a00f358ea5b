"""The `nbexec` command line."""
