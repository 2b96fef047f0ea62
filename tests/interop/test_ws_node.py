"""Interop with Node's ``ws`` package (v8), in a subprocess, in both roles.

``ws`` is installed with npm into ``/tmp/trio-ws-node/ws-<spec>`` once per machine; the
tests skip with a reason when node or npm is missing or the install fails (no network).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import trio

import trio_ws

from .helpers import (
    PEERS,
    MiB,
    open_ours,
    payload,
    peer_servers,
    run_their_client,
    their_close_record,
)

WS_SPEC = "ws@8"
CACHE = Path("/tmp/trio-ws-node") / WS_SPEC.replace("@", "-")
TIMEOUT = 20
SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 4 * MiB]

pytestmark = pytest.mark.network


def _install_ws() -> Path:
    """Install ``ws`` into the cache folder (atomically); return its node_modules."""
    modules = CACHE / "node_modules"
    if shutil.which("node") is None:
        pytest.skip("node is needed for the Node ws interop tests")
    if (modules / "ws" / "package.json").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is needed to install {WS_SPEC} for the Node ws interop tests")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=CACHE.parent))
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", WS_SPEC],
            capture_output=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0 or not (staging / "node_modules" / "ws").exists():
            stderr = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
            pytest.skip(f"npm install {WS_SPEC} failed (offline?): {' / '.join(stderr)}")
        try:
            staging.rename(CACHE)  # another session may have won the race: fine
        except OSError:
            pass
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {WS_SPEC} took more than 180 s")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (modules / "ws" / "package.json").exists():
        pytest.skip(f"{WS_SPEC} is not installed in {CACHE}")
    return modules


@pytest.fixture(scope="session")
def node_peer() -> tuple[list[str], dict[str, str]]:
    """The command that runs the Node peer, and its environment."""
    modules = _install_ws()
    env = {**os.environ, "NODE_PATH": str(modules)}
    return [shutil.which("node") or "node", str(PEERS / "ws_peer.js")], env


@pytest.fixture(scope="session")
def their_server(node_peer: tuple[list[str], dict[str, str]]) -> Iterator[Callable[..., int]]:
    command, env = node_peer
    with peer_servers(command, env) as start:
        yield start


COMPRESSION = pytest.mark.parametrize(
    ("compression", "flags"),
    [("deflate", ()), (None, ("--no-compression",))],
    ids=["deflate", "no-deflate"],
)


# --- Our client, their server ----------------------------------------------------------------


@COMPRESSION
async def test_client_battery(their_server, compression, flags) -> None:  # type: ignore[no-untyped-def]
    port = their_server(*flags)
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/battery", compression=compression) as ws:  # type: ignore[attr-defined]
            names = [extension.name for extension in ws.extensions]
            assert names == (["permessage-deflate"] if compression else [])
            for kind in ("text", "binary"):
                for size in SIZES:
                    data = payload(size, kind)
                    await ws.send(data)
                    assert await ws.receive() == data, (kind, size)
            await ws.send_fragments(["one ", "two ", "", "three"])
            assert await ws.receive() == "one two three"
            await ws.send_fragments([b"\x00" * 100_000, b"\xff" * 10])
            assert await ws.receive() == b"\x00" * 100_000 + b"\xff" * 10
            await ws.send("!fragments 4 20000 text")
            assert await ws.receive() == "".join(chr(0x61 + i) * 20000 for i in range(4))
            await ws.send("!fragments 3 5 binary")
            assert await ws.receive() == b"\x00" * 5 + b"\x01" * 5 + b"\x02" * 5
            assert await ws.ping(b"ours") >= 0
            await ws.send("!ping theirs")
            assert await ws.receive() == "pong theirs"


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (3001, "bye ✓"), (4999, "x" * 123)])
async def test_client_close_code_and_reason_reach_them(their_server, code, reason) -> None:  # type: ignore[no-untyped-def]
    port = their_server()
    path = f"/close-ours-{code}"
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, path) as ws:  # type: ignore[attr-defined]
            await ws.send("hi")
            assert await ws.receive() == "hi"
            await ws.aclose(code, reason)
        assert await their_close_record(port, path) == [code, reason]


@pytest.mark.parametrize(("code", "reason"), [(1000, "done"), (1001, ""), (4001, "bye")])
async def test_client_sees_their_close_code_and_reason(their_server, code, reason) -> None:  # type: ignore[no-untyped-def]
    port = their_server()
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/close-theirs") as ws:  # type: ignore[attr-defined]
            await ws.send(f"!close {code} {reason}")
            with pytest.raises(trio_ws.ConnectionClosed) as info:
                await ws.receive()
            assert (info.value.code, info.value.reason) == (code, reason)


# --- Our server, their client ----------------------------------------------------------------


async def their_client(
    node_peer: tuple[list[str], dict[str, str]],
    scenario: Callable[[trio_ws.WebSocketConnection], Awaitable[None]],
    *flags: str,
    **server_kwargs: object,
) -> tuple[str, tuple[int, str]]:
    command, env = node_peer
    return await run_their_client(command, scenario, *flags, env=env, **server_kwargs)


@COMPRESSION
async def test_server_battery(node_peer, compression, flags) -> None:  # type: ignore[no-untyped-def]
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        names = [extension.name for extension in ws.extensions]
        assert names == (["permessage-deflate"] if compression else [])
        for kind in ("text", "binary"):
            for size in SIZES:
                data = payload(size, kind)
                await ws.send(data)
                assert await ws.receive() == data, (kind, size)
        await ws.send_fragments([b"a" * 70_000, b"b"])
        assert await ws.receive() == b"a" * 70_000 + b"b"
        await ws.send("!fragments 3 1000 binary")
        assert await ws.receive() == b"\x00" * 1000 + b"\x01" * 1000 + b"\x02" * 1000
        assert await ws.ping(b"from our server") >= 0
        await ws.send("!ping from-node")
        assert await ws.receive() == "pong from-node"
        await ws.aclose(4000, "battery done")

    with trio.fail_after(TIMEOUT):
        extensions, closed = await their_client(
            node_peer, scenario, *flags, compression=compression
        )
    # ws prints the Sec-WebSocket-Extensions header it accepted from our server.
    if compression:
        assert extensions.split(";")[0] == "permessage-deflate", extensions
    else:
        assert extensions == ""
    assert closed == (4000, "battery done")


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1011, "oops"), (3999, "é" * 60)])
async def test_server_close_code_and_reason_reach_them(node_peer, code, reason) -> None:  # type: ignore[no-untyped-def]
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        await ws.send("ready")
        assert await ws.receive() == "ready"
        await ws.aclose(code, reason)

    with trio.fail_after(TIMEOUT):
        _, closed = await their_client(node_peer, scenario)
    assert closed == (code, reason)


async def test_server_sees_their_close_code_and_reason(node_peer) -> None:  # type: ignore[no-untyped-def]
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        await ws.send("!close 4002 node says bye")
        with pytest.raises(trio_ws.ConnectionClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (4002, "node says bye")

    with trio.fail_after(TIMEOUT):
        _, closed = await their_client(node_peer, scenario)
    assert closed == (4002, "node says bye")
