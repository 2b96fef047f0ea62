"""ws:// and wss:// URIs (RFC 6455 §3)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ._exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]


@dataclass(frozen=True, slots=True)
class WebSocketURI:
    """A parsed WebSocket URI."""

    #: ``True`` for ``wss://``.
    secure: bool
    #: Host name or address, without brackets for IPv6.
    host: str
    #: Port, defaulting to 80 (``ws``) or 443 (``wss``).
    port: int
    #: Path and query: the request target.
    target: str

    @property
    def host_header(self) -> str:
        """The Host header value: the port appears only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_uri(uri: str) -> WebSocketURI:
    """Parse and check a ``ws://`` or ``wss://`` URI.

    Raises:
        InvalidURI: another scheme, no host, a bad port, user info, or a fragment
            (RFC 6455 §3: "Fragment identifiers are meaningless ... MUST NOT be used").
    """
    shown = _redact(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"{shown!r} is not a valid URI: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise InvalidURI(f"{shown!r} is not a WebSocket URI: the scheme must be ws or wss")
    if "#" in uri:
        raise InvalidURI(f"{shown!r} has a fragment, which WebSocket URIs may not have")
    if not parts.hostname:
        raise InvalidURI(f"{shown!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURI(f"{shown!r} has user info, which WebSocket URIs may not have")
    if port == 0:
        raise InvalidURI(f"{shown!r} has port 0")
    secure = scheme == "wss"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if any(c in target for c in " \r\n\x00"):
        raise InvalidURI(f"{shown!r} has whitespace or control characters in its path")
    return WebSocketURI(
        secure=secure,
        host=parts.hostname,
        port=port if port is not None else (443 if secure else 80),
        target=target,
    )


def _redact(uri: str) -> str:
    """``uri`` with any password hidden, for error messages."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        return uri
    return uri.replace(f":{password}@", ":***@", 1) if password else uri
