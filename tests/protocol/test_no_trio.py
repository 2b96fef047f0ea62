"""The sans-IO core never imports trio."""

from __future__ import annotations

import subprocess
import sys


def test_protocol_imports_without_trio() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'trio' or name.startswith('trio.'):\n"
        "            raise ImportError('trio is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import trio_ws.protocol, trio_ws.protocol.extensions\n"
        "import trio_ws.protocol._connection\n"
        "assert not any(m == 'trio' or m.startswith('trio.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
