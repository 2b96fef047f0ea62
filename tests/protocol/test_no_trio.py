"""The sans-IO core never imports trio.

The first check loads ``trio_ws.protocol`` under a bare parent package, with trio blocked, in
a fresh interpreter; the others go through the real ``trio_ws/__init__.py``, which imports
the Trio layer lazily (PEP 562), so ``import trio_ws.protocol`` works without trio.
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


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )


def test_protocol_imports_with_trio_unimportable_through_the_real_package() -> None:
    # Issue 14: the exact command, through the installed package's own __init__.
    result = run_fresh('import sys; sys.modules["trio"] = None; import trio_ws.protocol')
    assert result.returncode == 0, result.stderr


def test_importing_trio_ws_loads_no_trio_until_a_trio_name_is_used() -> None:
    result = run_fresh(
        "import sys\n"
        "import trio_ws\n"
        "assert 'trio' not in sys.modules, 'trio loaded by import trio_ws'\n"
        "assert trio_ws.CloseCode.NORMAL_CLOSURE == 1000\n"
        "assert 'trio' not in sys.modules\n"
        "trio_ws.open_websocket\n"
        "assert 'trio' in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr


def test_testing_is_reachable_after_import_trio_ws() -> None:
    # Issue 16: ``import trio_ws`` then ``trio_ws.testing`` (no ``import trio_ws.testing``).
    result = run_fresh(
        "import trio_ws\nassert 'testing' in dir(trio_ws)\nprint(trio_ws.testing.__name__)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "trio_ws.testing"


def test_every_public_name_is_reachable_both_ways_with_its_public_module() -> None:
    result = run_fresh(
        "import inspect, trio_ws\n"
        "assert set(trio_ws.__all__) <= set(dir(trio_ws))\n"
        "for name in trio_ws.__all__:\n"
        "    obj = getattr(trio_ws, name)\n"
        "    exec(f'from trio_ws import {name} as same')\n"
        "    assert same is obj, name\n"
        "    if inspect.isclass(obj) or inspect.isfunction(obj):\n"
        "        assert obj.__module__ == 'trio_ws', (name, obj.__module__)\n"
        "try:\n"
        "    trio_ws.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_lazy_names_and_type_checking_imports_agree() -> None:
    # What type checkers see (the TYPE_CHECKING block) is what __getattr__ provides.
    init = PROTOCOL_DIR.parent / "__init__.py"
    tree = ast.parse(init.read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    seen = {
        ("." * node.level + (node.module or ""), alias.name)
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    import trio_ws

    lazy = {(module, name) for name, module in trio_ws._LAZY.items()}
    assert seen == lazy | {(".", name) for name in trio_ws._SUBMODULES}
