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

# The package loads without trio: ``import trio_ws.protocol`` runs this file first, and the
# sans-IO core must work where trio is not installed (issue 14). Names that need trio are
# imported on first use (PEP 562); type checkers see them all through the block below.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._options import Options as Options
from ._version import __version__ as __version__
from .protocol import CloseCode as CloseCode
from .protocol import LocalProtocolError as LocalProtocolError
from .protocol import MessageTooBig as MessageTooBig
from .protocol import ProtocolError as ProtocolError
from .protocol import RemoteProtocolError as RemoteProtocolError
from .protocol import WebSocketError as WebSocketError

if TYPE_CHECKING:
    from . import testing as testing
    from ._broadcast import BroadcastResult as BroadcastResult
    from ._broadcast import broadcast as broadcast
    from ._client import connect_stream as connect_stream
    from ._client import open_websocket as open_websocket
    from ._client import open_websocket_stream as open_websocket_stream
    from ._connection import ConnectionStatistics as ConnectionStatistics
    from ._connection import Data as Data
    from ._connection import WebSocketConnection as WebSocketConnection
    from ._exceptions import ConnectionClosed as ConnectionClosed
    from ._exceptions import ConnectionClosedError as ConnectionClosedError
    from ._exceptions import ConnectionClosedOK as ConnectionClosedOK
    from ._exceptions import HandshakeError as HandshakeError
    from ._exceptions import HandshakeRejected as HandshakeRejected
    from ._exceptions import HandshakeTimeout as HandshakeTimeout
    from ._exceptions import InvalidHandshake as InvalidHandshake
    from ._exceptions import InvalidURI as InvalidURI
    from ._exceptions import ProxyError as ProxyError
    from ._exceptions import TLSError as TLSError
    from ._h2_client import HTTP2Connection as HTTP2Connection
    from ._h2_client import open_http2_connection as open_http2_connection
    from ._reconnect import Reconnector as Reconnector
    from ._reconnect import reconnecting as reconnecting
    from ._reconnect import should_reconnect as should_reconnect
    from ._request import WebSocketRequest as WebSocketRequest
    from ._router import Router as Router
    from ._server import Handler as Handler
    from ._server import Server as Server
    from ._server import serve as serve
    from ._server import serve_listeners as serve_listeners
    from ._server import serve_stream as serve_stream
    from ._unix import serve_unix as serve_unix

__all__ = [
    "BroadcastResult",
    "CloseCode",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "ConnectionStatistics",
    "Data",
    "HTTP2Connection",
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
    "TLSError",
    "WebSocketConnection",
    "WebSocketError",
    "WebSocketRequest",
    "__version__",
    "broadcast",
    "connect_stream",
    "open_http2_connection",
    "open_websocket",
    "open_websocket_stream",
    "reconnecting",
    "serve",
    "serve_listeners",
    "serve_stream",
    "serve_unix",
    "should_reconnect",
]

#: Where each name that needs trio lives, imported on first access.
_LAZY: dict[str, str] = {
    "BroadcastResult": "._broadcast",
    "broadcast": "._broadcast",
    "connect_stream": "._client",
    "open_websocket": "._client",
    "open_websocket_stream": "._client",
    "ConnectionStatistics": "._connection",
    "Data": "._connection",
    "WebSocketConnection": "._connection",
    "ConnectionClosed": "._exceptions",
    "ConnectionClosedError": "._exceptions",
    "ConnectionClosedOK": "._exceptions",
    "HandshakeError": "._exceptions",
    "HandshakeRejected": "._exceptions",
    "HandshakeTimeout": "._exceptions",
    "InvalidHandshake": "._exceptions",
    "InvalidURI": "._exceptions",
    "ProxyError": "._exceptions",
    "TLSError": "._exceptions",
    "HTTP2Connection": "._h2_client",
    "open_http2_connection": "._h2_client",
    "Reconnector": "._reconnect",
    "reconnecting": "._reconnect",
    "should_reconnect": "._reconnect",
    "WebSocketRequest": "._request",
    "Router": "._router",
    "Handler": "._server",
    "Server": "._server",
    "serve": "._server",
    "serve_listeners": "._server",
    "serve_stream": "._server",
    "serve_unix": "._unix",
}
#: Submodules reachable as attributes after a bare ``import trio_ws``, loaded on first use.
_SUBMODULES = frozenset({"testing"})


def _public(obj: object) -> object:
    """Make reprs and docs say ``trio_ws.X``, not ``trio_ws._module.X``."""
    if getattr(obj, "__module__", "").startswith("trio_ws.") and hasattr(obj, "__qualname__"):
        try:
            obj.__module__ = __name__
        except (AttributeError, TypeError):  # pragma: no cover
            pass
    return obj


def __getattr__(name: str) -> Any:
    """Import the names that need trio, or a submodule, on first access (PEP 562).

    The first such name loads them all, as an eager import did, so that every public class
    says ``trio_ws.X`` from then on, whichever name was used first.
    """
    if name in _LAZY:
        namespace = globals()
        for lazy_name, module in _LAZY.items():
            value = getattr(importlib.import_module(module, __name__), lazy_name)
            namespace[lazy_name] = _public(value)  # later accesses skip this function
        return namespace[name]
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the public names, including those not imported yet (PEP 562)."""
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


for _name in __all__:
    if _name not in _LAZY:
        _public(globals()[_name])
del _name
