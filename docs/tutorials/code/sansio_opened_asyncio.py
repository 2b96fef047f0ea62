"""The sans-IO core on asyncio streams, with the opening handshake done elsewhere.

Here "elsewhere" is one line each way before the WebSocket frames: the client sends its
Sec-WebSocket-Extensions offer, the server answers with its choice. An HTTP/2 extended
CONNECT (RFC 8441) or an ASGI server's upgrade carries the same two header values.
"""

from __future__ import annotations

import asyncio

from trio_ws.protocol import (
    BytesMessage,
    CloseConnection,
    Connection,
    Role,
    TextMessage,
    accept_extension_answer,
    answer_extension_offers,
    offer_extensions,
)
from trio_ws.protocol.extensions import PerMessageDeflate


# the-server
async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    offer = (await reader.readline()).decode().strip()
    extensions, answer = answer_extension_offers([offer] if offer else [], [PerMessageDeflate()])
    writer.write(f"{answer or ''}\n".encode())
    conn = Connection.opened(Role.SERVER, extensions=extensions)
    while not conn.should_close_transport():
        data = await reader.read(65536)
        if data:
            conn.receive_data(data)
        else:
            conn.receive_eof()
        for event in conn.events():
            if isinstance(event, TextMessage | BytesMessage):
                conn.send(event)  # echo each piece as it comes
        writer.write(conn.data_to_send())
        await writer.drain()
    writer.close()


# the-client
async def client(port: int) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    offered = [PerMessageDeflate()]
    writer.write(f"{offer_extensions(offered) or ''}\n".encode())
    answer = (await reader.readline()).decode().strip()
    extensions = accept_extension_answer([answer] if answer else [], offered)
    conn = Connection.opened(Role.CLIENT, extensions=extensions)
    texts = ["hello", "over a stream opened elsewhere " * 10]
    for text in texts:
        conn.send(TextMessage(data=text))
    received: list[str] = []
    parts: list[str] = []
    while not conn.should_close_transport():
        writer.write(conn.data_to_send())
        data = await reader.read(65536)
        if data:
            conn.receive_data(data)
        else:
            conn.receive_eof()
        for event in conn.events():
            if isinstance(event, TextMessage):  # a message may come in several pieces
                parts.append(event.data)
                if event.message_finished:
                    received.append("".join(parts))
                    parts.clear()
                    if len(received) == len(texts):
                        conn.send(CloseConnection(code=1000))
    writer.close()
    return received


# end-client
async def main() -> None:
    server = await asyncio.start_server(serve_one, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        received = await client(port)
    assert received == ["hello", "over a stream opened elsewhere " * 10], received
    print(received[0])


async def demo() -> None:
    """For the test suite, which runs under Trio: run the asyncio example in a thread."""
    import trio

    await trio.to_thread.run_sync(asyncio.run, main())


if __name__ == "__main__":
    asyncio.run(main())
