"""Real Jupyter kernels for the notebook tests: a private data dir each, and what ran in them.

Every kernel gets `NBEXEC_DATA_DIR` = a short private dir (unix socket paths stay under 107
characters), so its embedded Redis and detached paper exchange are its own; `stop_engine_servers`
stops both at teardown, since they outlive the kernel by design.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from nbexec.notebook.runner import execute, stop_servers

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def stop_engine_servers(data_dir: Path) -> None:
    stop_servers(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def execute_notebook(
    name: str, data_dir: Path, probe: str = "", timeout: int = 120
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
