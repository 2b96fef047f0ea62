"""_request.py and _server.py do not import each other, not even for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "trio_ws"


def imported_modules(path: Path) -> set[str]:
    """Every trio_ws module ``path`` imports, at any level (TYPE_CHECKING blocks included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from ._server import X, from . import _server
                base = node.module or ""
                names.add(base)
                names.update(alias.name for alias in node.names if not base)
            elif node.module:
                names.add(node.module.removeprefix("trio_ws."))
        elif isinstance(node, ast.Import):
            names.update(alias.name.removeprefix("trio_ws.") for alias in node.names)
    return names


@pytest.mark.parametrize(("module", "other"), [("_request", "_server"), ("_server", "_request")])
def test_neither_imports_the_other(module: str, other: str) -> None:
    assert other not in imported_modules(SRC / f"{module}.py")


def test_the_shared_pieces_live_in_third_rooms() -> None:
    # The server and the requests share a Tracker; serving a connection builds requests.
    assert "_tracking" in imported_modules(SRC / "_request.py")
    assert "_tracking" in imported_modules(SRC / "_server.py")
    assert "_serving" in imported_modules(SRC / "_server.py")
    for room in ("_tracking", "_serving"):
        assert "_server" not in imported_modules(SRC / f"{room}.py")
    assert "_request" not in imported_modules(SRC / "_tracking.py")
