"""Router: pattern matching, parameters, precedence, 404, plain HTTP routes."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import Options, Router, WebSocketRequest

OPTIONS = Options(ping_interval=None, close_timeout=2.0, open_timeout=2.0)


async def noop(request: WebSocketRequest, **params: str) -> None:
    pass  # pragma: no cover


async def other(request: WebSocketRequest, **params: str) -> None:
    pass  # pragma: no cover


def test_static_and_parameter_matching() -> None:
    router = Router({"/": noop, "/rooms/{name}": other})
    assert router.match("/") == (noop, {})
    assert router.match("/rooms/lobby") == (other, {"name": "lobby"})
    assert router.match("/rooms/") is None
    assert router.match("/rooms/a/b") is None
    assert router.match("/rooms") is None
    assert router.match("/nowhere") is None


def test_parameters_are_percent_decoded_after_matching() -> None:
    router = Router([("/rooms/{name}", noop)])
    assert router.match("/rooms/a%20b") == (noop, {"name": "a b"})
    # An encoded slash does not match a one-segment parameter (no path smuggling).
    assert router.match("/rooms/a%2Fb") is None


def test_several_parameters_and_partial_segments() -> None:
    router = Router()
    router.add("/users/{user}/posts/{post}", noop)
    router.add("/files/{stem}.txt", other)
    assert router.match("/users/ann/posts/7") == (noop, {"user": "ann", "post": "7"})
    assert router.match("/files/notes.txt") == (other, {"stem": "notes"})
    assert router.match("/files/notes.md") is None


def test_path_parameter_takes_the_rest() -> None:
    router = Router({"/static/{rest:path}": noop})
    assert router.match("/static/css/site.css") == (noop, {"rest": "css/site.css"})
    assert router.match("/static/") == (noop, {"rest": ""})
    assert router.match("/static") is None


def test_static_beats_parameter_beats_path_whatever_the_order() -> None:
    router = Router()
    router.add("/{rest:path}", noop)
    router.add("/rooms/{name}", other)
    router.add("/rooms/lobby", lobby := _named("lobby"))
    router.add("/rooms/{name}/info", info := _named("info"))
    assert router.match("/rooms/lobby") == (lobby, {})
    assert router.match("/rooms/kitchen") == (other, {"name": "kitchen"})
    assert router.match("/rooms/kitchen/info") == (info, {"name": "kitchen"})
    assert router.match("/elsewhere/deep") == (noop, {"rest": "elsewhere/deep"})
    assert router.patterns == [
        "/{rest:path}",
        "/rooms/{name}",
        "/rooms/lobby",
        "/rooms/{name}/info",
    ]


def test_leftmost_static_segment_wins_then_first_added() -> None:
    router = Router()
    router.add("/{a}/x", noop)
    router.add("/x/{b}", other)
    assert router.match("/x/x") == (other, {"b": "x"})
    first, second = _named("first"), _named("second")
    router = Router([("/{a}/y", first), ("/{b}/y", second)])
    assert router.match("/q/y") == (first, {"a": "q"})


def _named(name: str) -> Any:
    async def handler(request: WebSocketRequest, **params: str) -> None:
        pass  # pragma: no cover

    handler.__name__ = name
    return handler


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("rooms", "starts with '/'"),
        ("/{}", "bad parameter name"),
        ("/{1x}", "bad parameter name"),
        ("/{a}/{a}", "appears twice"),
        ("/{rest:path}/more", "must end the pattern"),
        ("/{id:int}", "unknown parameter kind"),
        ("/a{b", "unbalanced braces"),
        ("/a}b/{c}", "unbalanced braces"),
    ],
)
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Router().add(pattern, noop)


def test_duplicate_pattern() -> None:
    router = Router({"/a": noop})
    with pytest.raises(ValueError, match="already routed"):
        router.add("/a", other)


def test_route_decorator() -> None:
    router = Router()

    @router.route("/echo")
    async def echo(request: WebSocketRequest) -> None:
        pass  # pragma: no cover

    assert router.match("/echo") == (echo, {})
    assert "/echo" in repr(router)


async def exchange(handler: Any, raw: bytes) -> bytes:
    """Serve one raw HTTP request in memory; return the whole response."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: trio_ws.serve_stream(handler, server, options=OPTIONS))
        await client.send_all(raw)
        response = b""
        while chunk := await client.receive_some():
            response += chunk
    return response


def build_router() -> Router:
    router = Router()

    @router.route("/rooms/{name}")
    async def room(request: WebSocketRequest, name: str) -> None:
        ws = await request.accept()
        await ws.send(f"welcome to {name}")
        async for message in ws:
            await ws.send(f"{name}: {message}")

    @router.route("/healthz")
    async def health(request: WebSocketRequest) -> None:
        await request.respond(200, body="ok\n")

    @router.route("/files/{rest:path}")
    async def files(request: WebSocketRequest, rest: str) -> None:
        await request.respond(200, body=f"file {rest}\n")

    return router


async def test_websocket_route_with_parameter() -> None:
    router = build_router()
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: trio_ws.serve_stream(router, server, options=OPTIONS))
            async with trio_ws.open_websocket_stream(
                client, host="test", target="/rooms/kitchen?x=1", options=OPTIONS
            ) as ws:
                assert await ws.receive() == "welcome to kitchen"
                await ws.send("hi")
                assert await ws.receive() == "kitchen: hi"


async def test_unknown_websocket_path_gets_404() -> None:
    router = build_router()
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: trio_ws.serve_stream(router, server, options=OPTIONS))
            with pytest.raises(trio_ws.HandshakeRejected) as info:
                async with trio_ws.open_websocket_stream(
                    client, host="test", target="/lobby", options=OPTIONS
                ):
                    pytest.fail("the handshake should be rejected")
    assert info.value.status_code == 404
    assert info.value.body == b"Not Found\n"


async def test_plain_http_routes_and_404() -> None:
    router = build_router()
    with trio.fail_after(10):
        ok = await exchange(router, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        missing = await exchange(router, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        deep = await exchange(router, b"GET /files/a/b.txt?v=2 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 ")
    assert ok.endswith(b"\r\n\r\nok\n")
    assert missing.startswith(b"HTTP/1.1 404 ")
    assert missing.endswith(b"Not Found\n")
    assert deep.endswith(b"file a/b.txt\n")


@pytest.mark.network
async def test_router_as_the_handler_given_to_serve() -> None:
    router = build_router()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve, router, "127.0.0.1", 0)
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/rooms/a%20b") as ws:
                assert await ws.receive() == "welcome to a b"
            await server.aclose()


def test_encoded_slash_does_not_match_a_segment_parameter() -> None:
    router = trio_ws.Router()

    async def room(request, name):  # pragma: no cover - never called
        pass

    router.add("/rooms/{name}", room)
    assert router.match("/rooms/a%20b") == (room, {"name": "a b"})
    assert router.match("/rooms/..%2F..%2Fetc") is None
