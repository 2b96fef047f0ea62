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
)
from ._errors import (
    MessageTooBig as MessageTooBig,
)
from ._errors import (
    ProtocolError as ProtocolError,
)
from ._errors import (
    RemoteProtocolError as RemoteProtocolError,
)
from ._errors import (
    WebSocketError as WebSocketError,
)
from ._events import (
    AcceptConnection as AcceptConnection,
)
from ._events import (
    BytesMessage as BytesMessage,
)
from ._events import (
    CloseConnection as CloseConnection,
)
from ._events import (
    ConnectionFailed as ConnectionFailed,
)
from ._events import (
    Event as Event,
)
from ._events import (
    Headers as Headers,
)
from ._events import (
    Message as Message,
)
from ._events import (
    Ping as Ping,
)
from ._events import (
    Pong as Pong,
)
from ._events import (
    RejectConnection as RejectConnection,
)
from ._events import (
    Request as Request,
)
from ._events import (
    TextMessage as TextMessage,
)
from ._frames import Opcode as Opcode
from ._limits import Limits as Limits
from ._negotiation import accept_extension_answer as accept_extension_answer
from ._negotiation import answer_extension_offers as answer_extension_offers
from ._negotiation import offer_extensions as offer_extensions
from ._sharing import serialize_message as serialize_message
from ._state import ConnectionState as ConnectionState
from ._state import Role as Role

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
    "accept_extension_answer",
    "answer_extension_offers",
    "offer_extensions",
    "serialize_message",
]
