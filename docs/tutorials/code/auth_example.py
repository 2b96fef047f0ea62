"""Origin checks and authentication tokens, checked before the handshake is accepted."""

import hmac

import trio

import trio_ws

TOKENS = {"s3cr3t-token": "ada"}  # in real life: a database, a signed token, ...


# origins
async def serve_checked(handler, port: int, *, task_status=trio.TASK_STATUS_IGNORED):
    await trio_ws.serve(
        handler,
        "127.0.0.1",
        port,
        # Browsers send Origin; None admits clients that send none (scripts, servers).
        origins={"https://app.example.com", None},
        task_status=task_status,
    )


# token
def user_for(request: trio_ws.WebSocketRequest) -> str | None:
    """Find the user from an Authorization header, or a token in the query string."""
    token = None
    authorization = request.header("authorization") or ""
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ")
    elif "token" in request.query_params:  # browsers cannot set headers on a WebSocket
        token = request.query_params["token"][0]
    for known, user in TOKENS.items():
        if token is not None and hmac.compare_digest(token, known):
            return user
    return None


async def handler(request: trio_ws.WebSocketRequest) -> None:
    user = user_for(request)
    if user is None:
        await request.reject(401, headers=[("WWW-Authenticate", "Bearer")], body="Unauthorized\n")
        return
    ws = await request.accept()
    await ws.send(f"hello, {user}")


# end
async def demo() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_checked, handler, 0)
        url = f"ws://127.0.0.1:{server.port}/"
        bearer = [("Authorization", "Bearer s3cr3t-token")]
        async with trio_ws.open_websocket(url, headers=bearer) as ws:
            assert await ws.receive() == "hello, ada"
        browser = "https://app.example.com"
        async with trio_ws.open_websocket(url + "?token=s3cr3t-token", origin=browser) as ws:
            assert await ws.receive() == "hello, ada"
        for kwargs, status in [
            ({}, 401),
            ({"headers": bearer, "origin": "https://evil.example"}, 403),
        ]:
            try:
                async with trio_ws.open_websocket(url, **kwargs):
                    raise AssertionError("not reached")
            except trio_ws.HandshakeRejected as exc:
                rejected = exc
            assert rejected.status_code == status, (kwargs, rejected.status_code)
        await server.aclose()


if __name__ == "__main__":
    trio.run(demo)
