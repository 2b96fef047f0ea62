"""One port for the WebSocket, a health check and the page that uses it."""

import trio

import trio_ws

PAGE = """<!doctype html>
<title>echo</title>
<script>
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (event) => document.body.append(event.data, document.createElement("br"));
  ws.onopen = () => ws.send("hello from the browser");
</script>
"""


# handler
async def handler(request: trio_ws.WebSocketRequest) -> None:
    if not request.is_websocket:
        if request.path == "/healthz":
            await request.respond(200, body="ok\n")
        elif request.path == "/":
            await request.respond(
                200, headers=[("Content-Type", "text/html; charset=utf-8")], body=PAGE
            )
        # Anything else: returning without an answer sends 404.
        return
    if request.path != "/ws":
        await request.reject(404)
        return
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


# end
async def http_get(port: int, path: str) -> bytes:
    """A minimal HTTP/1.1 GET, enough for the demo."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        response = b""
        while chunk := await stream.receive_some():
            response += chunk
    return response


async def demo() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
        assert (await http_get(server.port, "/healthz")).startswith(b"HTTP/1.1 200")
        assert b"new WebSocket" in await http_get(server.port, "/")
        assert (await http_get(server.port, "/missing")).startswith(b"HTTP/1.1 404")
        async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/ws") as ws:
            await ws.send("hi")
            assert await ws.receive() == "hi"
        await server.aclose()


if __name__ == "__main__":
    trio.run(demo)
