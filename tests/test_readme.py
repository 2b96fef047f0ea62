"""The README's example runs and prints what it says."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) == 1
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hello"
    assert float(lines[1]) >= 0


def test_readme_commands_exist() -> None:
    text = README.read_text()
    assert "uv run python examples/pubsub/server.py" in text
    assert "uv run pytest" in text
    assert (README.parent / "examples/pubsub/server.py").exists()
