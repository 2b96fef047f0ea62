"""Driving the sans-IO core with a plain blocking socket: a small synchronous client."""

import socket

import trio

import trio_ws
from trio_ws.protocol import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionFailed,
    Event,
    RejectConnection,
    Request,
    Role,
    TextMessage,
)


# the-class
class BlockingClient:
    """A synchronous WebSocket client: the core does the protocol, this class the I/O."""

    def __init__(self, host: str, port: int, target: str = "/") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.ws = Connection(Role.CLIENT)
        self.pending: list[Event] = []
        self.ws.send(Request(host=f"{host}:{port}", target=target))
        self.flush()
        event = self.next_event()
        if not isinstance(event, AcceptConnection):
            self.sock.close()
            raise ConnectionError(f"handshake failed: {event}")

    # the-io
    def flush(self) -> None:
        """Write whatever the core wants on the wire."""
        self.sock.sendall(self.ws.data_to_send())

    def next_event(self) -> Event:
        """Return the next event, reading the socket while none is pending."""
        while not self.pending:
            data = self.sock.recv(65536)
            if data:
                self.ws.receive_data(data)
            else:
                self.ws.receive_eof()
            self.pending.extend(self.ws.events())
            self.flush()  # pongs and the close echo, queued by the core itself
        return self.pending.pop(0)

    # the-api
    def send(self, text: str) -> None:
        self.ws.send(TextMessage(data=text))
        self.flush()

    def receive(self) -> str | bytes:
        """Gather the pieces of the next message."""
        pieces = []
        while True:
            event = self.next_event()
            if isinstance(event, TextMessage | BytesMessage):
                pieces.append(event.data)
                if event.message_finished:
                    return pieces[0][:0].join(pieces)
            elif isinstance(event, CloseConnection | ConnectionFailed | RejectConnection):
                raise ConnectionError(f"connection closed: {event}")

    def close(self) -> None:
        """Run the closing handshake; the server closes TCP first (RFC 6455 §7.1.1)."""
        self.ws.send(CloseConnection(code=1000))
        self.flush()
        while not self.ws.should_close_transport():
            data = self.sock.recv(65536)  # the server's close frame, then its EOF
            if data:
                self.ws.receive_data(data)
            else:
                self.ws.receive_eof()
        self.sock.close()


# end-class
async def demo() -> None:
    """Run the blocking client in a thread against a trio-ws echo server."""
    from echo import echo  # docs/tutorials/code/echo.py

    def talk(port: int) -> str:
        client = BlockingClient("127.0.0.1", port)
        client.send("hi")
        reply = client.receive()
        client.close()
        return reply

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, echo, "127.0.0.1", 0)
        reply = await trio.to_thread.run_sync(talk, server.port)
        assert reply == "hi", reply
        print("received:", reply)
        await server.aclose()


if __name__ == "__main__":
    trio.run(demo)
