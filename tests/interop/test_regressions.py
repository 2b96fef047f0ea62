"""Library bugs found while writing the interop tests, each reduced to a minimal case.

Both are fixed; the tests stay as regression tests.
"""

from __future__ import annotations

import gc
import warnings

import trio
import trio.lowlevel
import trio.testing

import trio_ws


async def test_cancelled_serve_closes_its_listeners() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.accept()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
            sockets = [listener.socket for listener in server.listeners]
            nursery.cancel_scope.cancel()
    try:
        assert [sock.fileno() for sock in sockets] == [-1] * len(sockets)
    finally:
        for sock in sockets:
            sock.close()


async def test_breaking_out_of_async_for_leaves_nothing_behind() -> None:
    async def echo(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            await ws.send(message)

    client_stream, server_stream = trio.testing.memory_stream_pair()
    options = trio_ws.Options(ping_interval=None, close_timeout=1)
    with trio.fail_after(5), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: trio_ws.serve_stream(echo, server_stream, options=options))
            async with trio_ws.open_websocket_stream(
                client_stream, host="example.com", options=options
            ) as ws:
                await ws.send("one")
                async for message in ws:  # the documented idiom, left with break
                    assert message == "one"
                    break
        gc.collect()
        await trio.lowlevel.checkpoint()
    leaked = [str(w.message) for w in caught if "_iterate" in str(w.message)]
    assert leaked == []
