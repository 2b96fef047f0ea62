"""The sans-IO core never imports trio.

``trio_ws/__init__.py`` (the Trio layer) does, so the check loads ``trio_ws.protocol`` under a
bare parent package, with trio blocked, in a fresh interpreter.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import trio_ws.protocol

PROTOCOL_DIR = pathlib.Path(trio_ws.protocol.__file__).parent


def test_protocol_imports_without_trio() -> None:
    code = (
        "import sys, types\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'trio' or name.startswith('trio.'):\n"
        "            raise ImportError('trio is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "parent = types.ModuleType('trio_ws')\n"
        f"parent.__path__ = [{str(PROTOCOL_DIR.parent)!r}]\n"
        "sys.modules['trio_ws'] = parent\n"
        "import trio_ws.protocol, trio_ws.protocol.extensions\n"
        "conn = trio_ws.protocol.Connection(trio_ws.protocol.Role.CLIENT)\n"
        "assert not any(m == 'trio' or m.startswith('trio.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_no_module_of_the_core_mentions_trio_imports() -> None:
    for path in PROTOCOL_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if n == "trio" or n.startswith(("trio.", "trio_ws"))], (
                path
            )
