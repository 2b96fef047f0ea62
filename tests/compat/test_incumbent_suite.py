"""trio-websocket 0.12.2's own test suite, run against the compat module (issue 18).

Needs PyPI (the suite comes from trio-websocket's sdist): skipped when it cannot be reached.
See tests/compat/run_incumbent_suite.py and docs/howto/migrate-from-trio-websocket.rst.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_incumbent_suite.py")
# Of its 64 tests, these 7 reach into trio-websocket's private internals (_send,
# _handle_ping_event, _close_stream, _for_testing_peer_closed_connection): the rest pass.
PRIVATE = {
    "test_open_websocket_internal_ki",
    "test_open_websocket_internal_exc",
    "test_open_websocket_cancellations",
    "test_remote_close_local_message_race",
    "test_message_after_local_close_race",
    "test_server_tcp_closed_on_close_connection_event",
    "test_remote_close_rude",
}


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_trio_websockets_own_suite_passes() -> None:
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable: cannot download trio-websocket's sdist")
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=900
    )
    if result.returncode == 2:
        pytest.skip(f"cannot download trio-websocket's sdist: {result.stderr[-500:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    *tests, summary = lines
    outcomes = dict(line.split(": ", 1) for line in tests)
    failed = {name for name, outcome in outcomes.items() if outcome != "passed"}
    assert summary == f"passed: {64 - len(failed)} of 64", result.stdout
    assert len(outcomes) == 64
    assert failed <= PRIVATE, result.stdout
    assert 64 - len(failed) >= 57
