"""Testing a trio-ws application with pytest-trio, without opening a socket.

Run it with ``pytest docs/tutorials/code/test_app_example.py`` (pytest-trio installed).
"""

import json

import pytest
import trio
import trio.testing

import trio_ws
import trio_ws.testing


# the-app
async def app(request: trio_ws.WebSocketRequest) -> None:
    """The application under test: answers ``{"add": [numbers]}`` with their sum."""
    if request.header("authorization") != "Bearer secret":
        await request.reject(401, body="Unauthorized\n")
        return
    ws = await request.accept()
    async for message in ws:
        try:
            answer = {"sum": sum(json.loads(message)["add"])}
        except (ValueError, KeyError, TypeError):
            answer = {"error": 'expected {"add": [numbers]}'}
        await ws.send(json.dumps(answer))


# the-fixture
@pytest.fixture
def connect():
    """Connect a client to ``app`` in memory; each test picks its headers."""

    def connect(headers=(("Authorization", "Bearer secret"),)):
        return trio_ws.testing.open_memory_websocket(app, headers=headers)

    return connect


# the-tests
@pytest.mark.trio
async def test_sum(connect):
    async with connect() as ws:
        await ws.send(json.dumps({"add": [1, 2, 3]}))
        assert json.loads(await ws.receive()) == {"sum": 6}


@pytest.mark.trio
async def test_rejects_missing_token(connect):
    with pytest.raises(trio_ws.HandshakeRejected) as info:
        async with connect(headers=()):
            pass
    assert info.value.status_code == 401


@pytest.mark.trio
async def test_bad_message_gets_an_error(connect):
    async with connect() as ws:
        await ws.send("not json")
        assert "error" in json.loads(await ws.receive())
        await ws.send(json.dumps({"add": [2, 2]}))  # and the connection goes on
        assert json.loads(await ws.receive()) == {"sum": 4}


# the-clock
@pytest.mark.trio
async def test_keepalive_timeout(autojump_clock):
    """A peer that stops answering pings is dropped after ping_interval + ping_timeout."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    options = trio_ws.Options(ping_interval=20, ping_timeout=20)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_ws.serve_stream, app, server_stream)
        headers = [("Authorization", "Bearer secret")]
        async with trio_ws.open_websocket_stream(
            client_stream, host="test", headers=headers, options=options
        ) as ws:
            # Stop delivering the server's bytes to the client: pongs never arrive.
            server_stream.send_stream.send_all_hook = None
            start = trio.current_time()
            with pytest.raises(trio_ws.ConnectionClosedError) as info:
                await ws.receive()
            assert info.value.code == 1011  # sent by our keepalive ping
            assert trio.current_time() - start >= 40
