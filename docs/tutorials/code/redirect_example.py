"""A server that moved: the client follows the redirect (and drops credentials off-origin)."""

from functools import partial

import trio

import trio_ws


# handlers
async def old_home(request: trio_ws.WebSocketRequest) -> None:
    """Every path moved to the new server, under /v2."""
    new_port = request.header("x-new-port")  # in real life, a fixed URL
    await request.reject(308, headers=[("Location", f"ws://127.0.0.1:{new_port}/v2")])


async def new_home(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    # The old server's origin got the token; this one, on another port, does not.
    await ws.send(f"{request.path}, token sent: {request.header('authorization') is not None}")


# demo
async def demo() -> None:
    async with trio.open_nursery() as nursery:
        old = await nursery.start(trio_ws.serve, old_home, "127.0.0.1", 0)
        new = await nursery.start(trio_ws.serve, new_home, "127.0.0.1", 0)
        headers = [("Authorization", "Bearer s3cr3t"), ("X-New-Port", str(new.port))]
        connect = partial(trio_ws.open_websocket, headers=headers, proxy=False)
        async with connect(f"ws://127.0.0.1:{old.port}/") as ws:
            assert await ws.receive() == "/v2, token sent: False"
        # max_redirects=0 turns following off: the redirect is an answer like any other.
        status = None
        try:
            async with connect(f"ws://127.0.0.1:{old.port}/", max_redirects=0):
                raise AssertionError("not reached")
        except trio_ws.HandshakeRejected as rejected:
            status = rejected.status_code
        assert status == 308
        await old.aclose()
        await new.aclose()


# end
if __name__ == "__main__":
    trio.run(demo)
