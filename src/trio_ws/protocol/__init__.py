"""The sans-IO WebSocket protocol core: bytes in, events out; events in, bytes out.

Nothing here does I/O or imports trio, so any I/O layer can drive it::

    from trio_ws.protocol import Connection, Request, Role, TextMessage

    client = Connection(Role.CLIENT)
    client.send(Request(host="example.com", target="/"))
    wire = client.data_to_send()      # write these bytes to the transport
    client.receive_data(b"...")       # feed what the transport gives back
    for event in client.events():     # and react to what it meant
        ...
"""

from ._close import CloseCode as CloseCode
from ._connection import Connection as Connection
from ._errors import (
    LocalProtocolError as LocalProtocolError,
    MessageTooBig as MessageTooBig,
    ProtocolError as ProtocolError,
    RemoteProtocolError as RemoteProtocolError,
    WebSocketError as WebSocketError,
)
from ._events import (
    AcceptConnection as AcceptConnection,
    BytesMessage as BytesMessage,
    CloseConnection as CloseConnection,
    ConnectionFailed as ConnectionFailed,
    Event as Event,
    Headers as Headers,
    Message as Message,
    Ping as Ping,
    Pong as Pong,
    RejectConnection as RejectConnection,
    Request as Request,
    TextMessage as TextMessage,
)
from ._frames import Opcode as Opcode
from ._limits import Limits as Limits
from ._state import ConnectionState as ConnectionState, Role as Role

__all__ = [
    "AcceptConnection",
    "BytesMessage",
    "CloseCode",
    "CloseConnection",
    "Connection",
    "ConnectionFailed",
    "ConnectionState",
    "Event",
    "Headers",
    "Limits",
    "LocalProtocolError",
    "Message",
    "MessageTooBig",
    "Opcode",
    "Ping",
    "Pong",
    "ProtocolError",
    "RejectConnection",
    "RemoteProtocolError",
    "Request",
    "Role",
    "TextMessage",
    "WebSocketError",
]
