"""Real Jupyter kernels for the notebook tests: a private data dir each, and what ran in them.

Every kernel gets `NBEXEC_DATA_DIR` = a short private dir (unix socket paths stay under 107
characters), so its embedded Redis and detached paper exchange are its own; `stop_engine_servers`
stops both at teardown, since they outlive the kernel by design.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager, start_new_kernel

from nbexec.notebook.runner import PROBE_MARK, execute, kernel_env, stop_servers

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def stop_engine_servers(data_dir: Path) -> None:
    stop_servers(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def execute_notebook(name: str, data_dir: Path, probe: str = "", timeout: int = 120
                     ) -> tuple[nbformat.NotebookNode, dict]:
    """Run notebooks/`name` in a fresh kernel, then `probe` in it (see nbexec.notebook.runner)."""
    return execute(NOTEBOOKS / name, data_dir, probe=probe, timeout=timeout)


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


def paper_tokens(data_dir: Path) -> list[str]:
    """The paper accounts' access tokens (what must never show in an output)."""
    info = json.loads((data_dir / "paper.json").read_text())["info"]
    return [a[k] for a in info["accounts"] for k in ("kite_access_token", "dhan_access_token", "kite_api_secret")]


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

    def run_queued(self, codes: list[str], timeout: float = 120) -> dict[int, list[str]]:
        """Send every cell at once, as JupyterLab's Run All does; {cell index: errors} once all
        replied (raises if some never do)."""
        ids = [self.kc.execute(code) for code in codes]
        errors: dict[int, list[str]] = {i: [] for i in range(len(ids))}
        idle: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(idle) < len(ids):
            msg = self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            parent = msg["parent_header"].get("msg_id")
            if parent not in ids:
                continue
            if msg["msg_type"] == "error":
                errors[ids.index(parent)].append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "stream":
                self.outputs.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle.add(parent)
        return errors

    def value(self, expression: str):
        """The JSON value of `expression` evaluated in the kernel."""
        printed: list[str] = []
        self.run(f"print({PROBE_MARK!r} + __import__('json').dumps({expression}))", into=printed)
        line = next(line for line in "".join(printed).splitlines() if line.startswith(PROBE_MARK))
        return json.loads(line[len(PROBE_MARK):])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
