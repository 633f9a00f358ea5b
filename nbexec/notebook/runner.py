"""Run a notebook top to bottom in a fresh Jupyter kernel, then ask that kernel questions.

Used by `make demo` and by the notebook tests. The kernel is a real ipykernel (kernel name
`python3`: this Python) whose `NBEXEC_DATA_DIR` is the given directory, so its engine gets its
own embedded Redis and paper exchange there. A probe is extra code run in the same kernel after
the notebook; it reports facts by calling `probe(**facts)`, and is not kept in the notebook.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager, start_new_kernel
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
    return dict(
        os.environ, NBEXEC_DATA_DIR=str(data_dir), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost"
    )


def execute(path: Path, data_dir: Path, *, probe: str = "", timeout: int = 120) -> tuple[nbformat.NotebookNode, dict]:
    """(the executed notebook, the facts the probe reported). Cell errors raise
    `nbclient.exceptions.CellExecutionError`."""
    nb = nbformat.read(path, as_version=4)
    cells = len(nb.cells)
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(PROBE_PRELUDE + probe))
    client = NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(Path(path).parent)}}
    )
    client.execute(env=kernel_env(data_dir))
    facts: dict = {}
    if probe:
        printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        line = next(line for line in printed.splitlines() if line.startswith(PROBE_MARK))
        facts = json.loads(line[len(PROBE_MARK) :])
        del nb.cells[cells:]
    return nb, facts


def stop_servers(data_dir: Path) -> None:
    """Stop the paper exchange and the embedded Redis that kernels started in `data_dir`
    (both outlive kernels by design)."""
    PaperSupervisor(Path(data_dir), PaperConfig()).stop()
    EmbeddedRedis(Path(data_dir)).stop()


class LiveKernel:
    """One python3 kernel driven cell by cell, each cell timed from request to reply (the restart
    and responsiveness tests, and `nbexec bench kernel_responsiveness`)."""

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
        return json.loads(line[len(PROBE_MARK) :])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
