"""WebSockets for Trio: client and server connections owned by nurseries.

The client::

    async with trio_ws.open_websocket("ws://127.0.0.1:8765/") as ws:
        await ws.send("hello")
        print(await ws.receive())

The server::

    async def echo(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            await ws.send(message)

    trio.run(trio_ws.serve, echo, "127.0.0.1", 8765)

The sans-IO protocol core underneath is :mod:`trio_ws.protocol`.
"""

from ._broadcast import (
    BroadcastResult as BroadcastResult,
)
from ._broadcast import (
    broadcast as broadcast,
)
from ._client import (
    connect_stream as connect_stream,
)
from ._client import (
    open_websocket as open_websocket,
)
from ._client import (
    open_websocket_stream as open_websocket_stream,
)
from ._connection import (
    ConnectionStatistics as ConnectionStatistics,
)
from ._connection import (
    Data as Data,
)
from ._connection import (
    WebSocketConnection as WebSocketConnection,
)
from ._exceptions import (
    ConnectionClosed as ConnectionClosed,
)
from ._exceptions import (
    ConnectionClosedError as ConnectionClosedError,
)
from ._exceptions import (
    ConnectionClosedOK as ConnectionClosedOK,
)
from ._exceptions import (
    HandshakeError as HandshakeError,
)
from ._exceptions import (
    HandshakeRejected as HandshakeRejected,
)
from ._exceptions import (
    HandshakeTimeout as HandshakeTimeout,
)
from ._exceptions import (
    InvalidHandshake as InvalidHandshake,
)
from ._exceptions import (
    InvalidURI as InvalidURI,
)
from ._exceptions import (
    ProxyError as ProxyError,
)
from ._options import Options as Options
from ._reconnect import (
    Reconnector as Reconnector,
)
from ._reconnect import (
    reconnecting as reconnecting,
)
from ._reconnect import (
    should_reconnect as should_reconnect,
)
from ._request import WebSocketRequest as WebSocketRequest
from ._router import Router as Router
from ._server import (
    Handler as Handler,
)
from ._server import (
    Server as Server,
)
from ._server import (
    serve as serve,
)
from ._server import (
    serve_listeners as serve_listeners,
)
from ._server import (
    serve_stream as serve_stream,
)
from ._unix import serve_unix as serve_unix
from ._version import __version__ as __version__
from .protocol import (
    CloseCode as CloseCode,
)
from .protocol import (
    LocalProtocolError as LocalProtocolError,
)
from .protocol import (
    MessageTooBig as MessageTooBig,
)
from .protocol import (
    ProtocolError as ProtocolError,
)
from .protocol import (
    RemoteProtocolError as RemoteProtocolError,
)
from .protocol import (
    WebSocketError as WebSocketError,
)

__all__ = [
    "BroadcastResult",
    "CloseCode",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "ConnectionStatistics",
    "Data",
    "Handler",
    "HandshakeError",
    "HandshakeRejected",
    "HandshakeTimeout",
    "InvalidHandshake",
    "InvalidURI",
    "LocalProtocolError",
    "MessageTooBig",
    "Options",
    "ProtocolError",
    "ProxyError",
    "Reconnector",
    "RemoteProtocolError",
    "Router",
    "Server",
    "WebSocketConnection",
    "WebSocketError",
    "WebSocketRequest",
    "__version__",
    "broadcast",
    "connect_stream",
    "open_websocket",
    "open_websocket_stream",
    "reconnecting",
    "serve",
    "serve_listeners",
    "serve_stream",
    "serve_unix",
    "should_reconnect",
]


def _fix_module_names() -> None:
    """Make reprs and docs say ``trio_ws.X``, not ``trio_ws._module.X``."""
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("trio_ws.") and hasattr(obj, "__qualname__"):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):  # pragma: no cover
                pass


_fix_module_names()
