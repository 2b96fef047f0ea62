"""Interop with the ``websockets`` library (asyncio), run in a subprocess, in both roles.

Their side echoes and obeys text commands (see ``peers/websockets_peer.py``); our side drives
each scenario and checks what comes back, including what their side negotiated and saw.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio

import trio_ws

from .helpers import (
    PEERS,
    MiB,
    far_matches,
    open_ours,
    payload,
    peer_servers,
    run_their_client,
    their_close_record,
)

PEER = [sys.executable, str(PEERS / "websockets_peer.py")]
TIMEOUT = 20
SIZES = [0, 1, 125, 126, 127, 65535, 65536, MiB, 16 * MiB]

pytestmark = pytest.mark.network


@pytest.fixture(scope="session")
def their_server() -> Iterator[Callable[..., int]]:
    """Start (once per set of flags) a websockets server; return its port."""
    with peer_servers(PEER) as start:
        yield start


COMPRESSION = pytest.mark.parametrize(
    ("compression", "flags"),
    [("deflate", ()), (None, ("--no-compression",))],
    ids=["deflate", "no-deflate"],
)


# --- Our client, their server ----------------------------------------------------------------


@COMPRESSION
@pytest.mark.parametrize("kind", ["text", "binary"])
async def test_client_messages_both_ways(their_server, compression, flags, kind) -> None:  # type: ignore[no-untyped-def]
    port = their_server(*flags)
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/sizes", compression=compression) as ws:  # type: ignore[attr-defined]
            for size in SIZES:
                data = payload(size, kind)
                await ws.send(data)
                assert await ws.receive() == data, size
            names = [extension.name for extension in ws.extensions]
            assert names == (["permessage-deflate"] if compression else [])


@COMPRESSION
async def test_client_fragments_both_ways(their_server, compression, flags) -> None:  # type: ignore[no-untyped-def]
    port = their_server(*flags)
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/fragments", compression=compression) as ws:  # type: ignore[attr-defined]
            # Ours, fragmented: they reassemble and echo one message.
            await ws.send_fragments(["\u03b1" * 1000, "\u03b2" * 10, "", "\u03b3" * 70000])
            assert await ws.receive() == "\u03b1" * 1000 + "\u03b2" * 10 + "\u03b3" * 70000
            await ws.send_fragments([b"\x00" * 200_000, b"\x01"])
            assert await ws.receive() == b"\x00" * 200_000 + b"\x01"
            # Theirs, fragmented: we reassemble, or read it piece by piece.
            await ws.send("!fragments 5 1000 text")
            assert await ws.receive() == "".join(chr(0x61 + i) * 1000 for i in range(5))
            await ws.send("!fragments 40 3000 binary")
            pieces = [piece async for piece in ws.receive_fragments()]
            assert b"".join(pieces) == b"".join(bytes([i]) * 3000 for i in range(40))


@COMPRESSION
async def test_client_pings_both_ways(their_server, compression, flags) -> None:  # type: ignore[no-untyped-def]
    port = their_server(*flags)
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/ping", compression=compression) as ws:  # type: ignore[attr-defined]
            rtt = await ws.ping(b"ours")
            assert 0 <= rtt < 5
            assert await ws.ping() >= 0
            await ws.send("!ping theirs")
            assert await ws.receive() == "pong theirs"  # we answered their ping


@pytest.mark.parametrize(
    ("code", "reason"), [(1000, ""), (1001, "going away"), (3000, "app"), (4999, "ünïcode")]
)
async def test_client_close_code_and_reason_reach_them(their_server, code, reason) -> None:  # type: ignore[no-untyped-def]
    port = their_server()
    path = f"/close-ours-{code}"
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, path) as ws:  # type: ignore[attr-defined]
            await ws.send("hi")
            assert await ws.receive() == "hi"
            await ws.aclose(code, reason)
            assert ws.close_code == code
        assert await their_close_record(port, path) == [code, reason]


@pytest.mark.parametrize(("code", "reason"), [(1000, "done"), (1011, "oops"), (4001, "bye")])
async def test_client_sees_their_close_code_and_reason(their_server, code, reason) -> None:  # type: ignore[no-untyped-def]
    port = their_server()
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/close-theirs") as ws:  # type: ignore[attr-defined]
            await ws.send(f"!close {code} {reason}")
            with pytest.raises(trio_ws.ConnectionClosed) as info:
                await ws.receive()
            assert (info.value.code, info.value.reason) == (code, reason)
            assert isinstance(info.value, trio_ws.ConnectionClosedOK) is (code == 1000)
            assert (ws.close_code, ws.close_reason) == (code, reason)


# Their server's permessage-deflate settings, and what each side should end up using.
# (flags, expected their {local,remote}_max_window_bits, no_context_takeover both ways)
WINDOWS = {
    **{
        f"bits-{bits}": (
            ("--server-max-window-bits", str(bits), "--client-max-window-bits", str(bits)),
            (bits, bits),
            (False, False),
        )
        for bits in range(9, 16)
    },
    "server-9-client-15": (
        ("--server-max-window-bits", "9", "--client-max-window-bits", "15"),
        (9, 15),
        (False, False),
    ),
    "server-15-client-9": (
        ("--server-max-window-bits", "15", "--client-max-window-bits", "9"),
        (15, 9),
        (False, False),
    ),
    "server-nct": (("--server-no-context-takeover",), (15, 15), (True, False)),
    "client-nct": (("--client-no-context-takeover",), (15, 15), (False, True)),
    "both-nct-10": (
        (
            "--server-no-context-takeover",
            "--client-no-context-takeover",
            "--server-max-window-bits",
            "10",
            "--client-max-window-bits",
            "10",
        ),
        (10, 10),
        (True, True),
    ),
}


async def _check_deflate_roundtrip(ws: trio_ws.WebSocketConnection) -> None:
    for seed in range(3):  # several messages: context takeover, or its absence, matters
        data = far_matches(seed)
        await ws.send(data)
        assert await ws.receive() == data
        await ws.send(data.hex())
        assert await ws.receive() == data.hex()
    stats = ws.statistics()
    assert stats.compression_ratio is not None
    assert stats.compression_ratio < 0.9


@pytest.mark.parametrize(("flags", "bits", "nct"), WINDOWS.values(), ids=WINDOWS.keys())
async def test_client_deflate_parameters(their_server, flags, bits, nct) -> None:  # type: ignore[no-untyped-def]
    port = their_server(*flags)
    with trio.fail_after(TIMEOUT):
        async with open_ours(port, "/windows") as ws:  # type: ignore[attr-defined]
            assert [extension.name for extension in ws.extensions] == ["permessage-deflate"]
            await ws.send("!extensions")
            (theirs,) = json.loads(await ws.receive())
            # Their server: local is what the server sends, remote what the client sends.
            assert (theirs["local_max_window_bits"], theirs["remote_max_window_bits"]) == bits
            assert (
                theirs["local_no_context_takeover"],
                theirs["remote_no_context_takeover"],
            ) == nct
            await _check_deflate_roundtrip(ws)


# --- Our server, their client ----------------------------------------------------------------


async def their_client(
    scenario: Callable[[trio_ws.WebSocketConnection], Awaitable[None]],
    *flags: str,
    **server_kwargs: object,
) -> tuple[list[dict[str, object]], tuple[int, str]]:
    """Serve ``scenario`` to one websockets client; return its view: extensions, close."""
    extensions, closed = await run_their_client(PEER, scenario, *flags, **server_kwargs)
    return json.loads(extensions), closed


@pytest.mark.parametrize("compression", ["deflate", None], ids=["deflate", "no-deflate"])
async def test_server_messages_both_ways(compression: str | None) -> None:
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        for kind in ("text", "binary"):
            for size in SIZES:
                data = payload(size, kind)
                await ws.send(data)
                assert await ws.receive() == data, (kind, size)
        assert [e.name for e in ws.extensions] == (["permessage-deflate"] if compression else [])

    with trio.fail_after(TIMEOUT):
        extensions, closed = await their_client(scenario, compression=compression)
    assert [e["name"] for e in extensions] == (["permessage-deflate"] if compression else [])
    assert closed == (1000, "")


async def test_server_fragments_pings_and_their_close() -> None:
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        await ws.send_fragments([b"x" * 100, b"y" * 100_000, b"z"])
        assert await ws.receive() == b"x" * 100 + b"y" * 100_000 + b"z"
        await ws.send("!fragments 3 70000 text")
        assert await ws.receive() == "a" * 70000 + "b" * 70000 + "c" * 70000
        assert await ws.ping(b"from our server") >= 0
        await ws.send("!ping from-their-client")
        assert await ws.receive() == "pong from-their-client"
        await ws.send("!close 4002 client says bye")
        with pytest.raises(trio_ws.ConnectionClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (4002, "client says bye")

    with trio.fail_after(TIMEOUT):
        _, closed = await their_client(scenario)
    assert closed == (4002, "client says bye")


@pytest.mark.parametrize(("code", "reason"), [(1001, "restarting"), (1011, ""), (4000, "é" * 60)])
async def test_server_close_code_and_reason_reach_them(code: int, reason: str) -> None:
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        await ws.send("ready")
        assert await ws.receive() == "ready"
        await ws.aclose(code, reason)

    with trio.fail_after(TIMEOUT):
        _, closed = await their_client(scenario)
    assert closed == (code, reason)


# Their client's settings; our server answers (it deflates with at most 12 bits by default
# and asks clients that let it for 12 bits too). (flags, their local/remote bits, nct)
CLIENT_WINDOWS = {
    **{
        f"server-bits-{bits}": (
            ("--server-max-window-bits", str(bits)),
            (12, min(bits, 12)),
            (False, False),
        )
        for bits in range(9, 16)
    },
    **{
        f"client-bits-{bits}": (
            ("--client-max-window-bits", str(bits)),
            (min(bits, 12), 15),
            (False, False),
        )
        for bits in range(9, 16)
    },
    "server-nct": (("--server-no-context-takeover",), (12, 15), (False, True)),
    "client-nct": (("--client-no-context-takeover",), (12, 15), (True, False)),
}


@pytest.mark.parametrize(
    ("flags", "bits", "nct"), CLIENT_WINDOWS.values(), ids=CLIENT_WINDOWS.keys()
)
async def test_server_deflate_parameters(flags, bits, nct) -> None:  # type: ignore[no-untyped-def]
    async def scenario(ws: trio_ws.WebSocketConnection) -> None:
        assert [extension.name for extension in ws.extensions] == ["permessage-deflate"]
        await _check_deflate_roundtrip(ws)

    with trio.fail_after(TIMEOUT):
        (theirs,), _ = await their_client(scenario, *flags)
    # Their client: local is what the client sends, remote what the server sends.
    assert (theirs["local_max_window_bits"], theirs["remote_max_window_bits"]) == bits
    assert (theirs["local_no_context_takeover"], theirs["remote_no_context_takeover"]) == nct
