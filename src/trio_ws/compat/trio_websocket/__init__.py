"""trio-websocket's public API on top of trio-ws.

An application written for `trio-websocket <https://trio-websocket.readthedocs.io/>`_
migrates by changing its import::

    # before
    from trio_websocket import open_websocket_url, serve_websocket, ConnectionClosed
    # after
    from trio_ws.compat.trio_websocket import open_websocket_url, serve_websocket, ConnectionClosed

Every name here wraps a trio-ws object; there is no second protocol implementation. The
signatures and defaults are trio-websocket 0.12.2's: a message queue of 1, 1 MiB messages,
60 s connect and disconnect timeouts, 4 KiB reads, no keepalive pings and no compression.
The trio-ws object under each wrapper is at hand (:attr:`WebSocketConnection.connection`,
:attr:`WebSocketRequest.request`) for moving to the native API one piece at a time.

trio-websocket 0.12.2's own test suite passes against this module, but for the tests that
reach into trio-websocket's internals; :doc:`/howto/migrate-from-trio-websocket` lists
every difference that remains.
"""

from __future__ import annotations

from ._client import (
    connect_websocket as connect_websocket,
)
from ._client import (
    connect_websocket_url as connect_websocket_url,
)
from ._client import (
    open_websocket as open_websocket,
)
from ._client import (
    open_websocket_url as open_websocket_url,
)
from ._client import (
    wrap_client_stream as wrap_client_stream,
)
from ._connection import WebSocketConnection as WebSocketConnection
from ._exceptions import (
    CloseReason as CloseReason,
)
from ._exceptions import (
    ConnectionClosed as ConnectionClosed,
)
from ._exceptions import (
    ConnectionRejected as ConnectionRejected,
)
from ._exceptions import (
    ConnectionTimeout as ConnectionTimeout,
)
from ._exceptions import (
    DisconnectionTimeout as DisconnectionTimeout,
)
from ._exceptions import (
    HandshakeError as HandshakeError,
)
from ._options import CONN_TIMEOUT as CONN_TIMEOUT
from ._options import MAX_MESSAGE_SIZE as MAX_MESSAGE_SIZE
from ._options import MESSAGE_QUEUE_SIZE as MESSAGE_QUEUE_SIZE
from ._options import RECEIVE_BYTES as RECEIVE_BYTES
from ._options import ByteHeaders as ByteHeaders
from ._request import WebSocketRequest as WebSocketRequest
from ._server import Handler as Handler
from ._server import WebSocketServer as WebSocketServer
from ._server import serve_websocket as serve_websocket
from ._server import wrap_server_stream as wrap_server_stream
from ._stream import Endpoint as Endpoint

__all__ = [
    "CONN_TIMEOUT",
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "RECEIVE_BYTES",
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketRequest",
    "WebSocketServer",
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]

# Public names say where they are documented, not which private module holds them.
for _name in __all__:
    _value = globals()[_name]
    if getattr(_value, "__module__", "").startswith(__name__ + "."):
        _value.__module__ = __name__
del _name, _value
