"""WebSockets over HTTP/2 (RFC 8441): a server that speaks both, clients that ask for it."""

import ssl
from functools import partial

import trio
import trustme

import trio_ws


# handler
async def handler(request: trio_ws.WebSocketRequest) -> None:
    if not request.is_websocket:  # a page or a health check, over HTTP/2 or HTTP/1.1
        await request.respond(body=f"hello over HTTP/{request.http_version}\n")
        return
    ws = await request.accept()
    async for message in ws:
        await ws.send(f"{message} (HTTP/{ws.http_version})")


# contexts
def make_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server certificate for localhost, and a client context that trusts it and offers h2."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_context.set_alpn_protocols(["h2", "http/1.1"])
    return server_context, client_context


# demo
async def demo() -> None:
    server_context, client_context = make_contexts()
    async with trio.open_nursery() as nursery:
        serve = partial(trio_ws.serve, ssl_context=server_context, http2=True)
        server = await nursery.start(serve, handler, "127.0.0.1", 0)
        url = f"wss://localhost:{server.port}/"

        # One WebSocket, on an HTTP/2 connection of its own.
        async with trio_ws.open_websocket(url, http2=True, ssl_context=client_context) as ws:
            await ws.send("hello")
            print(await ws.receive())  # hello (HTTP/2)

        # Three WebSockets sharing one HTTP/2 connection, a stream each.
        async with (
            trio_ws.open_http2_connection(url, ssl_context=client_context) as h2,
            trio.open_nursery() as clients,
        ):
            for name in ("a", "b", "c"):
                clients.start_soon(talk, h2, f"{url}{name}")

        await server.aclose()


async def talk(h2: trio_ws.HTTP2Connection, url: str) -> None:
    async with trio_ws.open_websocket(url, http2=h2) as ws:
        await ws.send(url)
        print(await ws.receive())


# end
if __name__ == "__main__":
    trio.run(demo)
