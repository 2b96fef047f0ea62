"""Rooms: a Router sends each room's path to one handler, which broadcasts to the room."""

import trio

import trio_ws

rooms: dict[str, set[trio_ws.WebSocketConnection]] = {}

# router
router = trio_ws.Router()


@router.route("/rooms/{name}")
async def room(request: trio_ws.WebSocketRequest, name: str) -> None:
    ws = await request.accept()
    members = rooms.setdefault(name, set())
    members.add(ws)
    try:
        async for message in ws:
            result = await trio_ws.broadcast(members, f"{name}: {message}", timeout=5.0)
            # Forget members that were too slow (dropped) or are gone (skipped).
            members.difference_update(result.dropped, result.skipped)
    finally:
        members.discard(ws)


@router.route("/healthz")
async def health(request: trio_ws.WebSocketRequest) -> None:
    await request.respond(200, body="ok\n")


# end
async def demo() -> None:
    rooms.clear()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, router, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}/rooms/lobby"
        async with trio_ws.open_websocket(url) as alice:
            await alice.send("alice is here")  # hearing it back means alice has joined
            assert await alice.receive() == "lobby: alice is here"
            async with trio_ws.open_websocket(url) as bob:
                await bob.send("bob is here")
                assert await bob.receive() == "lobby: bob is here"
                assert await alice.receive() == "lobby: bob is here"
                await alice.send("hi, all")
                assert await alice.receive() == "lobby: hi, all"
                assert await bob.receive() == "lobby: hi, all"
        try:
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/nowhere"):
                raise AssertionError("unreachable")
        except trio_ws.HandshakeRejected as exc:
            status = exc.status_code
        assert status == 404
        await server.aclose()


if __name__ == "__main__":
    trio.run(demo)
