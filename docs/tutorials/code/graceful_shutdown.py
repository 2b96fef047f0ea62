"""An echo server that shuts down gracefully on Ctrl+C (SIGINT) and SIGTERM.

Run it with ``python graceful_shutdown.py``; ``demo()`` is what a client sees.
"""

import signal

import trio

import trio_ws


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:  # ends quietly when the server closes with 1001
        await ws.send(message)


async def main(port: int = 8765, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, echo, "127.0.0.1", port)
        # While this block runs, SIGINT and SIGTERM arrive here as messages, instead of
        # a KeyboardInterrupt raised in whichever task happens to be running.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"listening on ws://127.0.0.1:{server.port}")
            task_status.started(server.port)
            async for signum in signals:
                print(f"{signal.Signals(signum).name}: closing connections")
                break
        # Out of the block, a second Ctrl+C raises KeyboardInterrupt and stops at once.
        await server.aclose()  # stop listening, 1001 to every client, wait for handlers


async def demo() -> None:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(main, 0)
        async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"
            signal.raise_signal(signal.SIGTERM)  # as `kill PID` would
            async for _ in ws:  # ends quietly on 1000 or 1001; raises on 1006
                pass
        closed = ws.close_received
        assert closed is not None
        assert closed.code == 1001
        print(f"the client sees: {closed.code} {closed.reason!r}")  # 1001 'server shutting down'


if __name__ == "__main__":
    try:
        trio.run(main)
    except* KeyboardInterrupt:
        pass  # the second Ctrl+C
