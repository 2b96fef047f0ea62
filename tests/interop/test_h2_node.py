"""WebSockets over HTTP/2 (RFC 8441) with Node.js in both roles: Node's ``http2`` module for
HTTP/2 (extended CONNECT with ``enableConnectProtocol``) and ``ws`` for the frames on the stream
(peers/h2_ws_peer.js), over TLS with a trustme certificate on loopback."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
import trustme

import trio_ws

from .helpers import PEERS
from .test_ws_node import _install_ws

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, str]]:
    modules = _install_ws()
    env = {**os.environ, "NODE_PATH": str(modules)}
    return [shutil.which("node") or "node", str(PEERS / "h2_ws_peer.js")], env


@pytest.fixture
def node_server(
    node: tuple[list[str], dict[str, str]], ca: trustme.CA, tmp_path: Path
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    command, env = node
    process = subprocess.Popen(
        [*command, "server", "--tls", str(certfile), str(keyfile)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield int(line.split()[1]), process
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


async def test_our_client_their_server(
    node_server: tuple[int, subprocess.Popen[str]], ca: trustme.CA
) -> None:
    port, process = node_server
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["h2"])
    url = f"wss://localhost:{port}/over-h2?x=1"
    with trio.fail_after(20):
        async with trio_ws.open_websocket(url, http2=True, ssl_context=context) as ws:
            assert ws.http_version == "2"
            assert [e.name for e in ws.extensions] == ["permessage-deflate"]
            for message in ("hello ✓", b"\x00\xff" * 50_000, "x" * 200_000):
                await ws.send(message)
                assert await ws.receive() == message
            await ws.send("!fragments 10 1000 text")
            assert await ws.receive() == "".join(chr(0x61 + i) * 1000 for i in range(10))
            await ws.send("!ping abc")
            assert await ws.receive() == "pong abc"
            rtt = await ws.ping()
            assert rtt >= 0
            await ws.send("!close 4000 done over h2")
            with pytest.raises(trio_ws.ConnectionClosed) as closed:
                await ws.receive()
        assert (closed.value.code, closed.value.reason) == (4000, "done over h2")
        assert ws.close_code == 4000
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "CONNECT /over-h2?x=1"


async def test_their_client_our_server(
    node: tuple[list[str], dict[str, str]], ca: trustme.CA
) -> None:
    command, env = node
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    seen: list[object] = []

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        seen.append((request.http_version, request.path, ws.http_version))
        for message in ("hello ✓", b"\x01\x02" * 40_000):
            await ws.send(message)
            seen.append(await ws.receive() == message)
        await ws.send("!fragments 5 300 binary")
        seen.append(await ws.receive() == b"".join(bytes([i]) * 300 for i in range(5)))
        await ws.aclose(1000, "bye from trio-ws")

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            serve = partial(trio_ws.serve, ssl_context=server_context, http2=True)
            server = await nursery.start(serve, handler, "127.0.0.1", 0)
            url = f"https://127.0.0.1:{server.port}/from-node"
            result = await trio.run_process(
                [*command, "client", url, "--tls-insecure"],
                env=env,
                capture_stdout=True,
                check=False,
            )
            await server.aclose()
    lines = result.stdout.decode().splitlines()
    assert result.returncode == 0, lines
    assert "SETTINGS enableConnectProtocol=true" in lines
    assert "STATUS 200" in lines
    assert any(line.startswith("EXTENSIONS permessage-deflate") for line in lines), lines
    assert lines[-1] == "CLOSED 1000 bye from trio-ws"
    assert seen == [("2", "/from-node", "2"), True, True, True]
