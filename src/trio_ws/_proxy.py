"""HTTP CONNECT proxies for the client: which proxy to use, and opening the tunnel.

Theory of operation: :func:`choose_proxy` turns the ``proxy=`` argument of
:func:`~trio_ws.open_websocket` into a :class:`ProxyURL` or ``None`` (an explicit URL, the
environment's ``https_proxy``/``http_proxy``/``all_proxy`` honouring ``no_proxy``, or never).
:func:`open_tunnel` connects to the proxy, sends ``CONNECT host:port`` (RFC 9110 §9.3.6) and
reads the answer with h11; on a 2xx the TCP stream *is* the tunnel. Bytes the proxy sent
after its response head already belong to the origin server, so they are replayed first by
:class:`PrefixedStream`. TLS to the origin (``wss://``) is the caller's job, over the tunnel:
the proxy only sees ciphertext. Timeouts are the caller's too (``open_timeout``).
"""

from __future__ import annotations

import base64
import urllib.request
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import h11
import trio

from ._exceptions import InvalidURI, ProxyError
from ._options import RECEIVE_SIZE

__all__ = [
    "PrefixedStream",
    "ProxySetting",
    "ProxyURL",
    "choose_proxy",
    "open_tunnel",
    "parse_proxy_url",
]

#: Largest response head accepted from a proxy. Answers to CONNECT are a status line and a
#: few header fields; 8 KiB is what the opening handshake allows too.
MAX_PROXY_RESPONSE_SIZE = 8192

#: What ``proxy=`` accepts: a URL, ``None`` (from the environment) or ``False`` (never).
ProxySetting = str | Literal[False] | None


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """An ``http://[user:password@]host:port`` proxy, parsed."""

    #: Host name or address, without brackets for IPv6.
    host: str
    #: Port (80, the http default, when the URL gives none).
    port: int
    #: The ``Proxy-Authorization`` value, when the URL carries user info.
    authorization: str | None = None

    def __repr__(self) -> str:
        # Never show credentials in logs and tracebacks.
        auth = ", with credentials" if self.authorization else ""
        return f"<ProxyURL {self.host}:{self.port}{auth}>"


def parse_proxy_url(url: str) -> ProxyURL:
    """Parse an ``http://`` proxy URL (a bare ``host:port`` is taken as ``http://``).

    Raises:
        InvalidURI: another scheme (``https://``, ``socks5://``...), no host, or a bad port.
    """
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"invalid proxy URL {_redact(url)!r}: {exc}") from None
    if parts.scheme.lower() != "http":
        raise InvalidURI(
            f"unsupported proxy URL {_redact(url)!r}: only http:// proxies (HTTP CONNECT) are "
            "supported; pass proxy=False to connect directly"
        )
    if not parts.hostname:
        raise InvalidURI(f"invalid proxy URL {_redact(url)!r}: no host")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        authorization = f"Basic {token}"
    return ProxyURL(parts.hostname, 80 if port is None else port, authorization)


def choose_proxy(proxy: ProxySetting, *, secure: bool, host: str, port: int) -> ProxyURL | None:
    """The proxy to reach ``host:port`` through, or ``None`` to connect directly.

    Args:
        proxy: A proxy URL; ``None`` to read the environment (``https_proxy`` for
            ``wss://``, ``http_proxy`` for ``ws://``, then ``all_proxy``; upper-case names
            too; ``no_proxy`` lists hosts to reach directly); ``False`` for no proxy.
        secure: ``True`` for ``wss://``.
        host: The server's host.
        port: The server's port.

    Raises:
        InvalidURI: the proxy URL is not a supported one.
    """
    if proxy is False:
        return None
    if proxy is not None:
        return parse_proxy_url(proxy)
    # getproxies_environment() reads lower- and upper-case variables (lower-case wins), like
    # curl and requests; only the environment, never OS-level settings, so it is predictable.
    proxies = urllib.request.getproxies_environment()
    url = proxies.get("https" if secure else "http") or proxies.get("all")
    if not url:
        return None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if urllib.request.proxy_bypass_environment(target, proxies):  # type: ignore[attr-defined]
        return None
    return parse_proxy_url(url)


async def open_tunnel(proxy: ProxyURL, host: str, port: int) -> trio.abc.Stream:
    """Connect to ``proxy`` and open a ``CONNECT`` tunnel to ``host:port``.

    Returns:
        A stream to the origin server, through the proxy.

    Raises:
        ProxyError: the proxy refused (its status in ``status_code``), or its answer was not
            valid HTTP, too large, or cut short.
        OSError: the TCP connection to the proxy failed.
    """
    stream = await trio.open_tcp_stream(proxy.host, proxy.port)
    try:
        return await _connect(stream, proxy, host, port)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def _connect(
    stream: trio.abc.Stream, proxy: ProxyURL, host: str, port: int
) -> trio.abc.Stream:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = [("Host", authority)]
    if proxy.authorization is not None:
        headers.append(("Proxy-Authorization", proxy.authorization))
    http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_PROXY_RESPONSE_SIZE)
    data = http.send(h11.Request(method="CONNECT", target=authority, headers=headers))
    data += http.send(h11.EndOfMessage()) or b""
    where = f"proxy {proxy.host}:{proxy.port}"
    received = 0
    try:
        await stream.send_all(data or b"")
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProxyError(f"{where} sent an invalid answer to CONNECT: {exc}") from None
            if event is h11.NEED_DATA:
                chunk = await stream.receive_some(RECEIVE_SIZE)
                if not chunk:
                    raise ProxyError(f"{where} closed the connection before answering CONNECT")
                received += len(chunk)
                http.receive_data(bytes(chunk))
            elif isinstance(event, h11.Response):
                break
            # else: a 1xx before the real answer; skip it.
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise ProxyError(f"{where} broke the connection during CONNECT: {exc}") from None
    # h11 bounds an incomplete head; a complete one that arrived in one read is checked here.
    trailing, _ = http.trailing_data
    if received - len(trailing) > MAX_PROXY_RESPONSE_SIZE:
        raise ProxyError(
            f"{where} sent an invalid answer to CONNECT: "
            f"its head is larger than {MAX_PROXY_RESPONSE_SIZE} bytes"
        )
    status = event.status_code
    if not 200 <= status < 300:
        reason = event.reason.decode("latin-1", "replace")
        if status == 407:
            detail = (
                "the credentials in the proxy URL were refused"
                if proxy.authorization
                else "put user:password@ in the proxy URL"
            )
            message = f"{where} requires authentication (HTTP 407 {reason}): {detail}"
        else:
            message = f"{where} refused to tunnel to {authority} (HTTP {status} {reason})"
        raise ProxyError(message, status)
    # RFC 9110 §9.3.6: after a 2xx, the connection is a tunnel. h11 hands back whatever
    # followed the response head: the origin server's first bytes.
    return PrefixedStream(stream, bytes(trailing)) if trailing else stream


class PrefixedStream(trio.abc.Stream):
    """A stream that replays ``prefix`` before reading from ``transport_stream``."""

    def __init__(self, transport_stream: trio.abc.Stream, prefix: bytes) -> None:
        #: The wrapped stream (the name lets address lookups find the socket underneath).
        self.transport_stream = transport_stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Return the replayed bytes first, then what the wrapped stream receives."""
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return await self.transport_stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send through the wrapped stream."""
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """Delegate to the wrapped stream."""
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the wrapped stream."""
        self._prefix = b""
        await self.transport_stream.aclose()


def _redact(url: str) -> str:
    """``url`` with the password replaced, for error messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "<unparsable URL>"
