"""nbexec: a research-to-execution OMS that runs inside the Jupyter kernel's own asyncio loop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nbexec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]


def load_ipython_extension(ipython) -> None:
    """`%load_ext nbexec`: the `%oms` magics (see nbexec.notebook.extension)."""
    from .notebook.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .notebook.extension import unload_ipython_extension as unload

    unload(ipython)
