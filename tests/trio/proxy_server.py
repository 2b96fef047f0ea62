"""A small HTTP CONNECT proxy for the tests, on 127.0.0.1.

It accepts ``CONNECT host:port``, optionally demands Basic credentials (407 otherwise) or
refuses everything with a given status, then pipes bytes both ways. It counts tunnels and
keeps what the client sent through them, so a test can check that wss:// stays encrypted.
"""

from __future__ import annotations

import base64
from typing import Any

import trio


class ConnectProxy:
    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        refuse: int | None = None,
        after_head: bytes = b"",
    ) -> None:
        self.credentials = credentials
        self.refuse = refuse
        self.after_head = after_head  # raw bytes sent right after the 200 head
        self.tunnels = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.client_bytes = bytearray()
        self.port = 0
        self.url = ""

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        task_status.started(self)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = await client.receive_some(4096)
                if not data:
                    return
                head += data
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.requests.append((f"{method} {target}", headers))
            if method != "CONNECT":
                await client.send_all(
                    b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
                )
                return
            if self.refuse is not None:
                await self._answer(client, f"{self.refuse} Refused", b"no tunnel for you\n")
                return
            if self.credentials is not None:
                token = base64.b64encode(":".join(self.credentials).encode()).decode()
                if headers.get("proxy-authorization") != f"Basic {token}":
                    await self._answer(
                        client,
                        "407 Proxy Authentication Required",
                        b"",
                        b'Proxy-Authenticate: Basic realm="test"\r\n',
                    )
                    return
            host, _, port = target.rpartition(":")
            try:
                upstream = await trio.open_tcp_stream(host.strip("[]"), int(port))
            except OSError:
                await self._answer(client, "502 Bad Gateway", b"")
                return
            self.tunnels += 1
            async with upstream:
                await client.send_all(
                    b"HTTP/1.1 200 Connection established\r\n\r\n" + self.after_head
                )
                if rest:
                    self.client_bytes += rest
                    await upstream.send_all(rest)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, client, upstream, nursery.cancel_scope, True)
                    nursery.start_soon(self._pipe, upstream, client, nursery.cancel_scope, False)

    async def _answer(
        self, client: trio.SocketStream, status: str, body: bytes, extra: bytes = b""
    ) -> None:
        await client.send_all(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode()
            + extra
            + b"\r\n"
            + body
        )

    async def _pipe(
        self,
        source: trio.abc.Stream,
        sink: trio.abc.Stream,
        scope: trio.CancelScope,
        from_client: bool,
    ) -> None:
        try:
            while data := await source.receive_some(65536):
                if from_client:
                    self.client_bytes += data
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()
