"""wss:// with a throwaway certificate authority from trustme, as in a test suite."""

import ssl
from functools import partial

import trio
import trustme

import trio_ws


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


# contexts
def make_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost, and a client that trusts it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


# demo
async def demo() -> None:
    server_context, client_context = make_contexts()
    async with trio.open_nursery() as nursery:
        serve = partial(trio_ws.serve, ssl_context=server_context)
        server = await nursery.start(serve, echo, "127.0.0.1", 0)
        url = f"wss://localhost:{server.port}/"
        async with trio_ws.open_websocket(url, ssl_context=client_context) as ws:
            await ws.send("secret")
            assert await ws.receive() == "secret"
        await server.aclose()


# production
def production_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context from real certificate files (for example from Let's Encrypt)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


# end
if __name__ == "__main__":
    trio.run(demo)
