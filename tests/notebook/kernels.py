"""Real Jupyter kernels for the notebook tests: a private data dir each, and what ran in them.

Every kernel gets `NBEXEC_DATA_DIR` = a short private dir (unix socket paths stay under 107
characters), so its embedded Redis and detached paper exchange are its own; `stop_engine_servers`
stops both at teardown, since they outlive the kernel by design.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager, start_new_kernel
from nbclient import NotebookClient

from nbexec.engine.config import PaperConfig
from nbexec.engine.paper import PaperSupervisor
from nbexec.store.embedded import EmbeddedRedis

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PROBE = "NBEXEC-PROBE "


def kernel_env(data_dir: Path) -> dict[str, str]:
    return dict(os.environ, NBEXEC_DATA_DIR=str(data_dir), NO_PROXY="127.0.0.1,localhost",
                no_proxy="127.0.0.1,localhost")


def stop_engine_servers(data_dir: Path) -> None:
    PaperSupervisor(data_dir, PaperConfig()).stop()
    EmbeddedRedis(data_dir).stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def execute_notebook(name: str, data_dir: Path, probe: str = "", timeout: int = 120
                     ) -> tuple[nbformat.NotebookNode, dict]:
    """Run notebooks/`name` in a fresh python3 kernel, then `probe` (code printing a JSON line
    via `probe(...)`) in the same kernel; (the executed notebook, the probe's dict)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = len(nb.cells)
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(
            f"import json as _json\ndef probe(**facts):\n    print({PROBE!r} + _json.dumps(facts, default=str))\n{probe}"))
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=kernel_env(data_dir))
    facts = {}
    if probe:
        out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        line = next(line for line in out.splitlines() if line.startswith(PROBE))
        facts = json.loads(line[len(PROBE):])
        del nb.cells[cells:]
    return nb, facts


def cell_outputs(nb: nbformat.NotebookNode, starts_with: str) -> list:
    """Outputs of the first code cell whose source starts with `starts_with`."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(starts_with):
            return cell.outputs
    raise AssertionError(f"no cell starts with {starts_with!r}")


def text_of(outputs: list) -> str:
    parts = []
    for o in outputs:
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def widget_values(nb: nbformat.NotebookNode) -> list[str]:
    """String `value`s of every widget whose state nbclient saved with the notebook."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [s["state"]["value"] for s in state.values() if isinstance(s["state"].get("value"), str)]


class LiveKernel:
    """One python3 kernel driven cell by cell (for restart and responsiveness tests)."""

    def __init__(self, data_dir: Path) -> None:
        self.km: KernelManager
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=kernel_env(data_dir))
        self.outputs: list[str] = []

    def run(self, code: str, timeout: float = 120, *, into: list[str] | None = None) -> float:
        """Execute `code`; seconds from request to reply. Raises if the cell raised. Its
        printed text goes to `into` (default: `self.outputs`)."""
        errors: list[str] = []
        sink = self.outputs if into is None else into

        def hook(msg) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                sink.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        started = time.monotonic()
        self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        took = time.monotonic() - started
        if errors:
            raise AssertionError(f"cell failed: {errors[0]}\n{code}")
        return took

    def value(self, expression: str):
        """The JSON value of `expression` evaluated in the kernel."""
        printed: list[str] = []
        self.run(f"print({PROBE!r} + __import__('json').dumps({expression}))", into=printed)
        line = next(line for line in "".join(printed).splitlines() if line.startswith(PROBE))
        return json.loads(line[len(PROBE):])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
