"""The paper exchange's import boundaries: no cycle among its modules, nothing of nbexec but
`nbexec.core`, and front ends that reach the server only through `exchange`.

Every import statement counts, those inside functions and under TYPE_CHECKING included.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import nbexec.paper

PACKAGE = Path(nbexec.paper.__file__).parent
FRONT_END_MODULES = ("admin", "kite", "dhan")


def _modules() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("nbexec", "paper", *path.relative_to(PACKAGE).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Modules `name` imports; `from X import y` counts as X.y when that is a module."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[:len(package) - node.level + 1] if node.level else []
            source = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def test_no_import_cycle_among_the_paper_modules():
    graph = {name: {m for m in imports if m in MODULES} for name, imports in IMPORTS.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {exc.args[1]}") from None


def test_of_nbexec_the_paper_exchange_imports_only_core():
    leaving = {(name, m) for name, imports in IMPORTS.items() for m in imports
               if m.startswith("nbexec.") and not m.startswith(("nbexec.core", "nbexec.paper"))}
    assert leaving == set()


def test_front_ends_never_import_the_server():
    front_ends = {name for name in MODULES
                  if name.removeprefix("nbexec.paper.").split(".")[0] in FRONT_END_MODULES}
    assert {name for name in front_ends if "nbexec.paper.server" in IMPORTS[name]} == set()
