"""Run a notebook top to bottom in a fresh Jupyter kernel, then ask that kernel questions.

Used by `make demo` and by the notebook tests. The kernel is a real ipykernel (kernel name
`python3`: this Python) whose `NBEXEC_DATA_DIR` is the given directory, so its engine gets its
own embedded Redis and paper exchange there. A probe is extra code run in the same kernel after
the notebook; it reports facts by calling `probe(**facts)`, and is not kept in the notebook.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..engine.config import PaperConfig
from ..engine.paper import PaperSupervisor
from ..store.embedded import EmbeddedRedis

PROBE_MARK = "NBEXEC-PROBE "
PROBE_PRELUDE = f"""import json as _json
def probe(**facts):
    print({PROBE_MARK!r} + _json.dumps(facts, default=str))
"""


def kernel_env(data_dir: Path) -> dict[str, str]:
    """This process's environment with the engine's data dir set (loopback kept off any proxy)."""
    return dict(os.environ, NBEXEC_DATA_DIR=str(data_dir), NO_PROXY="127.0.0.1,localhost",
                no_proxy="127.0.0.1,localhost")


def execute(path: Path, data_dir: Path, *, probe: str = "", timeout: int = 120
            ) -> tuple[nbformat.NotebookNode, dict]:
    """(the executed notebook, the facts the probe reported). Cell errors raise
    `nbclient.exceptions.CellExecutionError`."""
    nb = nbformat.read(path, as_version=4)
    cells = len(nb.cells)
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(PROBE_PRELUDE + probe))
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    client.execute(env=kernel_env(data_dir))
    facts: dict = {}
    if probe:
        printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        line = next(line for line in printed.splitlines() if line.startswith(PROBE_MARK))
        facts = json.loads(line[len(PROBE_MARK):])
        del nb.cells[cells:]
    return nb, facts


def stop_servers(data_dir: Path) -> None:
    """Stop the paper exchange and the embedded Redis that kernels started in `data_dir`
    (both outlive kernels by design)."""
    PaperSupervisor(Path(data_dir), PaperConfig()).stop()
    EmbeddedRedis(Path(data_dir)).stop()
