"""nbexec: a research-to-execution OMS that runs inside the Jupyter kernel's own asyncio loop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nbexec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
