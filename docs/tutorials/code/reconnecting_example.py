"""A client that keeps a feed going: reconnecting() with backoff, around a flaky server."""

import trio

import trio_ws


# server
async def flaky_feed(request: trio_ws.WebSocketRequest) -> None:
    """Sends three ticks, then drops the connection, as servers under deploys do."""
    ws = await request.accept()
    for tick in range(3):
        await ws.send(f"tick {tick}")
    await ws.aclose(1012, "service restart")


# client
async def follow_feed(url: str, wanted: int) -> list[str]:
    received: list[str] = []
    async with trio_ws.reconnecting(url, backoff_initial=0.1, backoff_max=1.0) as connections:
        async for ws in connections:
            try:
                async for message in ws:
                    received.append(str(message))
                    if len(received) == wanted:
                        return received
            except trio_ws.ConnectionClosed as closed:
                print(f"dropped ({closed.code} {closed.reason}); reconnecting")
    raise AssertionError("not reached: the loop never ends by itself")


# demo
async def demo() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, flaky_feed, "127.0.0.1", 0)
        ticks = await follow_feed(f"ws://127.0.0.1:{server.port}/feed", wanted=7)
        assert ticks == ["tick 0", "tick 1", "tick 2"] * 2 + ["tick 0"]
        await server.aclose()


# end
if __name__ == "__main__":
    trio.run(demo)
