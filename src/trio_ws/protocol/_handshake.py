"""The HTTP/1.1 opening handshake of RFC 6455 §4, for both roles, parsed with h11.

Theory of operation: h11 parses the HTTP head (and, on a client, the body of a refusal);
this module decides what the head means for WebSocket. Each side feeds bytes in with
``receive_data`` and gets ``None`` (need more) or one result, once; whatever follows the head
is handed back untouched (``ServerHandshake.trailing``, ``ClientAccepted.trailing``) because it
already belongs to the framing layer. h11 is never asked to switch protocols: once the head
is parsed, its buffer is the trailing data and the h11 object is dropped.

Responses the server sends are built directly rather than through h11, so that an error
response can be written whatever state the parser ended in.

Size limits: h11's ``max_incomplete_event_size`` stops an endless head, and the size of a
head that arrived whole is measured from what h11 consumed, so both obey
``Limits.max_handshake_size``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import final

import h11

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import AcceptConnection, Headers, RejectConnection, Request
from ._headers import (
    decode_headers,
    header_values,
    parse_extensions,
    parse_subprotocols,
    parse_token_list,
    response_head,
    serialize_extension,
    status_phrase,
)
from ._limits import Limits
from ._negotiation import accept_answers, negotiate_offers
from .extensions._base import Extension, ExtensionParams

__all__ = [
    "GUID",
    "ClientAccepted",
    "ClientHandshake",
    "ClientRejected",
    "ServerHandshake",
    "accept_value",
    "generate_key",
]

#: RFC 6455 §1.3: the GUID appended to ``Sec-WebSocket-Key`` to compute the accept value.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Header fields the handshake writes itself; an application may not set them.
_OWNED = frozenset(
    {"host", "upgrade", "connection", "content-length", "transfer-encoding"}
    | {f"sec-websocket-{name}" for name in ("key", "version", "protocol", "extensions", "accept")}
)
#: Header fields :meth:`ServerHandshake.reject` writes itself.
_REJECT_OWNED = frozenset({"connection", "content-length", "transfer-encoding"})
_CLOSED = "connection closed during the opening handshake"
_SHOWN = 40


def generate_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``: 16 random bytes, base64 (RFC 6455 §4.1).

    Returns:
        24 characters of base64.
    """
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def accept_value(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` for a key (RFC 6455 §4.2.2 item 5.4).

    Args:
        key: The ``Sec-WebSocket-Key`` value, as sent.

    Returns:
        base64 of the SHA-1 of the key followed by :data:`GUID`.
    """
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def _show(value: str) -> str:
    """Quote a peer-supplied value for an error message, cut short."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _check_owned(headers: Headers, owned: frozenset[str], what: str) -> None:
    """Refuse application headers the handshake writes itself, or that cannot be sent."""
    for name, value in headers:
        if name.lower() in owned:
            raise LocalProtocolError(
                f"header {name!r} is set by the handshake; remove it from {what}"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"header {name!r} is not latin-1 text") from None


def _fail(message: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(message, http_status=status)


class _Parser:
    """An h11 connection plus the accounting that enforces the head limits.

    Errors carry an HTTP status on the server (400, or 431 for the limits) and none on the
    client, which has no one to answer.
    """

    def __init__(self, *, server: bool, limits: Limits) -> None:
        role = h11.SERVER if server else h11.CLIENT
        self.h11 = h11.Connection(role, max_incomplete_event_size=limits.max_handshake_size)
        self.what = "request" if server else "response"
        self.status: int | None = 400 if server else None
        self.too_large_status: int | None = 431 if server else None
        self.limits = limits
        self.fed = 0
        self.head_size = 0

    def feed(self, data: bytes) -> None:
        self.h11.receive_data(data)
        self.fed += len(data)

    def buffered(self) -> bytes:
        return self.h11.trailing_data[0]

    def next_event(self) -> h11.Event | None:
        """Return the next event, or ``None`` when h11 needs more data."""
        consumed = self.fed - len(self.buffered())
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:  # h11's max_incomplete_event_size
                raise self._too_large() from None
            raise RemoteProtocolError(
                f"malformed HTTP {self.what}: {str(exc)[:100]}", http_status=self.status
            ) from None
        if not isinstance(event, h11.Event):
            return None  # NEED_DATA (PAUSED never happens: we stop at the head's end)
        if isinstance(event, h11.Request | h11.InformationalResponse | h11.Response):
            # The head just parsed is what h11 consumed in this call. A client counts every
            # head it reads (1xx included), so endless 100 Continue cannot keep it waiting.
            self.head_size += self.fed - len(self.buffered()) - consumed
            if self.head_size > self.limits.max_handshake_size:
                raise self._too_large()
            if len(event.headers) > self.limits.max_handshake_headers:
                raise RemoteProtocolError(
                    f"{self.what} has more than {self.limits.max_handshake_headers} header"
                    " fields (max_handshake_headers)",
                    http_status=self.too_large_status,
                )
        return event

    def _too_large(self) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"{self.what} head is larger than {self.limits.max_handshake_size} bytes"
            " (max_handshake_size)",
            http_status=self.too_large_status,
        )


# --- Client ---------------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class ClientAccepted:
    """The server accepted the handshake with a valid ``101 Switching Protocols``.

    Args:
        event: The response as an event: subprotocol, negotiated extensions, headers.
        extensions: The configured extensions the server accepted, in the server's order.
        trailing: Bytes received after the response head: WebSocket frames, untouched.
    """

    event: AcceptConnection
    extensions: list[Extension] = field(default_factory=list)
    trailing: bytes = b""


@final
@dataclass(frozen=True, slots=True)
class ClientRejected:
    """The server answered with a final status other than 101.

    Args:
        event: Status, headers and body (cut at ``Limits.max_reject_body_size``).
    """

    event: RejectConnection


@final
class ClientHandshake:
    """The client side of the opening handshake (RFC 6455 §4.1).

    Call :meth:`request` once, send its bytes, then feed what the server sends to
    :meth:`receive_data` (and :meth:`receive_eof`) until a result comes out.

    Args:
        extensions: The extensions to offer, one offer each, in order of preference.
        limits: The size limits on the server's response.

    Raises:
        LocalProtocolError: Two extensions share a name.
    """

    def __init__(self, *, extensions: Sequence[Extension], limits: Limits) -> None:
        names = [extension.name for extension in extensions]
        if len(set(names)) != len(names):
            raise LocalProtocolError(f"extensions {names} offer the same name twice")
        self._extensions = list(extensions)
        self._limits = limits
        self._parser: _Parser | None = None
        self._key = ""
        self._subprotocols: tuple[str, ...] = ()
        self._response: h11.Response | None = None
        self._body = bytearray()
        self._done = False

    def request(self, event: Request) -> bytes:
        """Return the bytes of the opening handshake request for ``event``.

        Args:
            event: Host, target, subprotocols to offer and extra headers.

        Returns:
            The HTTP/1.1 GET request with a fresh key.

        Raises:
            LocalProtocolError: Called twice, ``event`` is not a WebSocket request, carries
                extension offers, or sets a header the handshake owns.
        """
        if self._parser is not None:
            raise LocalProtocolError("the handshake request was already sent")
        if not event.is_websocket:
            raise LocalProtocolError("a client can only send a WebSocket handshake request")
        if event.extensions:
            raise LocalProtocolError(
                "Request.extensions must be empty: the connection offers its own extensions"
            )
        _check_owned(event.headers, _OWNED, "Request.headers")
        self._key = generate_key()
        self._subprotocols = event.subprotocols
        # RFC 6455 §4.1 items 2-10: Host, Upgrade, Connection, Key, Version, then options.
        headers = [
            ("Host", event.host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self._key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if event.subprotocols:
            headers.append(("Sec-WebSocket-Protocol", ", ".join(event.subprotocols)))
        offers = [serialize_extension(ext.name, ext.offer()) for ext in self._extensions]
        if offers:
            headers.append(("Sec-WebSocket-Extensions", ", ".join(offers)))
        headers.extend(event.headers)
        parser = _Parser(server=False, limits=self._limits)
        try:
            data = parser.h11.send(
                h11.Request(
                    method=b"GET",
                    target=event.target.encode("latin-1"),
                    headers=[(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers],
                )
            )
        except (UnicodeEncodeError, h11.LocalProtocolError) as exc:
            raise LocalProtocolError(f"cannot send the handshake request: {exc}") from None
        self._parser = parser
        return data + parser.h11.send(h11.EndOfMessage())

    def receive_data(self, data: bytes) -> ClientAccepted | ClientRejected | None:
        """Feed bytes from the server.

        Args:
            data: The next bytes received (empty bytes are ignored; use :meth:`receive_eof`).

        Returns:
            The outcome once known, else ``None``.

        Raises:
            RemoteProtocolError: The response is malformed, too large, or a 101 that fails
                the checks of RFC 6455 §4.1.
            LocalProtocolError: Called before :meth:`request` or after the outcome.
        """
        parser = self._check_receiving()
        if data:
            parser.feed(data)
        return self._pump(parser)

    def receive_eof(self) -> ClientAccepted | ClientRejected:
        """Tell the handshake the server closed the connection.

        Returns:
            The refusal, when its body was delimited by the end of the connection.

        Raises:
            RemoteProtocolError: The response was incomplete.
            LocalProtocolError: Called before :meth:`request` or after the outcome.
        """
        parser = self._check_receiving()
        if self._response is None:
            self._done = True
            raise RemoteProtocolError(_CLOSED)
        parser.feed(b"")
        try:
            outcome = self._pump(parser)
        except RemoteProtocolError:
            outcome = None
        if outcome is None:
            self._done = True
            raise RemoteProtocolError(_CLOSED)
        return outcome

    def _check_receiving(self) -> _Parser:
        if self._parser is None:
            raise LocalProtocolError("send the handshake request first")
        if self._done:
            raise LocalProtocolError("the opening handshake is over")
        return self._parser

    def _pump(self, parser: _Parser) -> ClientAccepted | ClientRejected | None:
        try:
            while True:
                event = parser.next_event()
                if event is None:
                    return None
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        self._done = True
                        return self._accepted(event, parser.buffered())
                    continue  # RFC 7231 §6.2: a client ignores unexpected 1xx responses.
                if isinstance(event, h11.Response):
                    self._response = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) >= self._limits.max_reject_body_size:
                        return self._rejected()
                else:  # EndOfMessage: h11 emits nothing else before it
                    return self._rejected()
        except RemoteProtocolError:
            self._done = True
            raise

    def _rejected(self) -> ClientRejected:
        self._done = True
        assert self._response is not None
        try:
            event = RejectConnection(
                status_code=self._response.status_code,
                headers=decode_headers(self._response.headers),
                body=bytes(self._body[: self._limits.max_reject_body_size]),
            )
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"invalid response: {exc}") from None
        return ClientRejected(event)

    def _accepted(self, response: h11.InformationalResponse, trailing: bytes) -> ClientAccepted:
        headers = decode_headers(response.headers)
        # RFC 6455 §4.1, the client's checks of the server's handshake, items 2-6.
        if "websocket" not in parse_token_list(header_values(headers, "upgrade")):
            raise RemoteProtocolError("101 response lacks 'Upgrade: websocket'")
        if "upgrade" not in parse_token_list(header_values(headers, "connection")):
            raise RemoteProtocolError("101 response lacks 'Connection: upgrade'")
        accepts = header_values(headers, "sec-websocket-accept")
        if len(accepts) != 1:
            raise RemoteProtocolError(
                f"101 response has {len(accepts)} Sec-WebSocket-Accept headers instead of 1"
            )
        if accepts[0] != accept_value(self._key):
            raise RemoteProtocolError(
                f"101 response has a wrong Sec-WebSocket-Accept {_show(accepts[0])}"
            )
        try:
            subprotocols = parse_subprotocols(header_values(headers, "sec-websocket-protocol"))
            negotiated = parse_extensions(header_values(headers, "sec-websocket-extensions"))
        except ValueError as exc:
            raise RemoteProtocolError(f"101 response has an invalid header: {exc}") from None
        if len(subprotocols) > 1:
            raise RemoteProtocolError(
                f"server chose {len(subprotocols)} subprotocols: {', '.join(subprotocols)}"
            )
        subprotocol = subprotocols[0] if subprotocols else None
        if subprotocol is not None and subprotocol not in self._subprotocols:
            raise RemoteProtocolError(
                f"server chose subprotocol {subprotocol!r}, which was not offered"
            )
        accepted = accept_answers(negotiated, self._extensions)
        event = AcceptConnection(
            subprotocol=subprotocol,
            extensions=tuple(serialize_extension(name, params) for name, params in negotiated),
            headers=headers,
        )
        return ClientAccepted(event, accepted, trailing)


# --- Server ---------------------------------------------------------------------------------


@final
class ServerHandshake:
    """The server side of the opening handshake (RFC 6455 §4.2).

    Feed the client's bytes to :meth:`receive_data` until it returns the :class:`Request`,
    then answer once with :meth:`accept` or :meth:`reject`. If it raises
    :class:`RemoteProtocolError`, send :meth:`error_response` and close the connection.

    Args:
        extensions: The extensions this server supports.
        limits: The size limits on the request head.
    """

    def __init__(self, *, extensions: Sequence[Extension], limits: Limits) -> None:
        self._extensions = list(extensions)
        self._parser: _Parser | None = _Parser(server=True, limits=limits)
        self._request: Request | None = None
        self._key = ""
        self._offers: list[tuple[str, ExtensionParams]] = []
        self._answered = False
        #: The accepted extensions as Sec-WebSocket-Extensions values, once accept() ran.
        self.accepted_values: tuple[str, ...] = ()
        #: The bytes received after the request head, untouched (empty until it is complete).
        self.trailing = b""

    def receive_data(self, data: bytes) -> Request | None:
        """Feed bytes from the client.

        Args:
            data: The next bytes received (empty bytes are ignored; use :meth:`receive_eof`).

        Returns:
            The request once its head is complete (with ``is_websocket=False`` for a plain
            HTTP GET), else ``None``. What follows the head is then in :attr:`trailing`.

        Raises:
            RemoteProtocolError: The request is not an acceptable opening handshake; its
                ``http_status`` is the status to answer with (400, 405, 426 or 431).
            LocalProtocolError: Called after the request was complete or an error raised.
        """
        if self._parser is None:
            raise LocalProtocolError("the request head is already complete (or failed)")
        parser = self._parser
        if not data:
            return None
        parser.feed(data)
        try:
            event = parser.next_event()
            if event is None:
                return None
            assert isinstance(event, h11.Request)
            request = self._check(event)
        except RemoteProtocolError:
            self._parser = None
            raise
        self.trailing = parser.buffered()
        self._parser = None
        return request

    def receive_eof(self) -> None:
        """Tell the handshake the client closed the connection.

        Raises:
            RemoteProtocolError: The request head was incomplete (``http_status`` is
                ``None``: there is no one to answer).
        """
        if self._request is None:
            self._parser = None
            raise RemoteProtocolError(_CLOSED, http_status=None)

    def _check(self, event: h11.Request) -> Request:
        headers = decode_headers(event.headers)
        # Each field's values, looked up below instead of scanning every header per field.
        fields: dict[str, list[str]] = {}
        for name, value in headers:
            fields.setdefault(name, []).append(value)
        method = event.method.decode("latin-1")
        target = event.target.decode("latin-1")
        # RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        if event.http_version != b"1.1":
            version = event.http_version.decode("latin-1")
            raise _fail(f"HTTP/{version} request: the handshake needs HTTP/1.1")
        if method != "GET":
            raise _fail(f"method {_show(method)} is not allowed: the handshake is a GET", 405)
        lengths = fields.get("content-length", [])  # h11 checked these are digits
        if fields.get("transfer-encoding", []) or any(int(v) for v in lengths):
            raise _fail("request has a body: a handshake GET must not")
        # RFC 6455 §4.1 item 3: the Request-URI is origin-form (a path and an optional query).
        if not target.startswith("/") or "#" in target:
            raise _fail(f"request target {_show(target)} is not in origin-form")
        host = fields["host"][0]  # h11 checked an HTTP/1.1 request has one Host
        # RFC 6455 §4.2.1 item 3: |Upgrade| contains "websocket" (case-insensitive).
        is_websocket = "websocket" in parse_token_list(fields.get("upgrade", []))
        subprotocols = self._check_websocket(fields) if is_websocket else []
        try:
            self._request = Request(
                host=host,
                target=target,
                subprotocols=tuple(subprotocols),
                extensions=tuple(
                    serialize_extension(name, params) for name, params in self._offers
                ),
                headers=headers,
                is_websocket=is_websocket,
            )
        except LocalProtocolError as exc:  # an empty Host, for one
            raise _fail(f"invalid request: {exc}") from None
        return self._request

    def _check_websocket(self, fields: dict[str, list[str]]) -> list[str]:
        # RFC 6455 §4.2.1 item 4: |Connection| includes the token "Upgrade" (case-insensitive).
        if "upgrade" not in parse_token_list(fields.get("connection", [])):
            raise _fail("request has 'Upgrade: websocket' but lacks 'Connection: upgrade'")
        # Item 5: |Sec-WebSocket-Key| base64-decodes to 16 bytes; §11.3.1: it appears once.
        keys = fields.get("sec-websocket-key", [])
        if len(keys) != 1:
            raise _fail(f"request has {len(keys)} Sec-WebSocket-Key headers instead of 1")
        try:
            decoded = base64.b64decode(keys[0], validate=True)
        except binascii.Error:
            decoded = b""
        if len(decoded) != 16:
            raise _fail(f"Sec-WebSocket-Key {_show(keys[0])} is not base64 of 16 bytes")
        self._key = keys[0]
        # Item 6 and §4.4: version 13, else 426 with |Sec-WebSocket-Version: 13|.
        version = ", ".join(fields.get("sec-websocket-version", []))
        if not version:
            raise _fail("request lacks Sec-WebSocket-Version", 426)
        if version != "13":
            message = f"unsupported Sec-WebSocket-Version {_show(version)}"
            raise _fail(f"{message}: this server supports only 13", 426)
        try:
            subprotocols = parse_subprotocols(fields.get("sec-websocket-protocol", []))
        except ValueError as exc:
            raise _fail(f"invalid Sec-WebSocket-Protocol header: {exc}") from None
        try:
            self._offers = parse_extensions(fields.get("sec-websocket-extensions", []))
        except ValueError as exc:
            raise _fail(f"invalid Sec-WebSocket-Extensions header: {exc}") from None
        return subprotocols

    def _answering(self) -> Request:
        if self._request is None:
            raise LocalProtocolError("no complete request to answer yet")
        if self._answered:
            raise LocalProtocolError("the request was already answered")
        return self._request

    def accept(self, event: AcceptConnection) -> tuple[bytes, list[Extension]]:
        """Accept the handshake: negotiate extensions and build the 101 response.

        Extension negotiation walks the client's offers in its order; each offer naming a
        configured extension not yet accepted goes to that extension's
        :meth:`~Extension.accept_offer`, which accepts it or declines it (the walk goes on).

        Args:
            event: The chosen subprotocol and extra headers.

        Returns:
            The response bytes and the accepted extensions, in the response's order.

        Raises:
            LocalProtocolError: The request was not a WebSocket one, was already answered,
                ``event.subprotocol`` was not offered, ``event.extensions`` is not empty, or
                ``event.headers`` sets a header the handshake owns.
        """
        request = self._answering()
        if not request.is_websocket:
            raise LocalProtocolError("a plain HTTP request cannot be accepted; reject it")
        if event.subprotocol is not None and event.subprotocol not in request.subprotocols:
            raise LocalProtocolError(f"subprotocol {event.subprotocol!r} was not offered")
        if event.extensions:
            raise LocalProtocolError(
                "AcceptConnection.extensions must be empty: they are negotiated"
            )
        _check_owned(event.headers, _OWNED, "AcceptConnection.headers")
        accepted, answers = negotiate_offers(self._offers, self._extensions)
        # RFC 6455 §4.2.2 item 5: status 101, Upgrade, Connection, Sec-WebSocket-Accept.
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_value(self._key)),
        ]
        if event.subprotocol is not None:
            headers.append(("Sec-WebSocket-Protocol", event.subprotocol))
        if answers:
            headers.append(("Sec-WebSocket-Extensions", ", ".join(answers)))
        headers.extend(event.headers)
        self._answered = True
        self.accepted_values = tuple(answers)
        return response_head(101, headers), accepted

    def reject(self, event: RejectConnection) -> bytes:
        """Refuse the handshake, or answer a plain HTTP request, with an HTTP response.

        Args:
            event: Status, headers and body. ``Content-Length`` and ``Connection: close`` are
                added (no ``Content-Length`` for 204 and 304, which have no body).

        Returns:
            The response bytes. Close the connection once they are sent.

        Raises:
            LocalProtocolError: No request to answer, already answered, ``event.headers``
                sets Connection, Content-Length or Transfer-Encoding, or a 204/304 has a body.
        """
        self._answering()
        _check_owned(event.headers, _REJECT_OWNED, "RejectConnection.headers")
        headers = list(event.headers)
        if event.status_code in (204, 304):
            # RFC 7230 §3.3: these responses never have a body.
            if event.body:
                raise LocalProtocolError(f"a {event.status_code} response has no body")
        else:
            headers.append(("Content-Length", str(len(event.body))))
        headers.append(("Connection", "close"))
        self._answered = True
        return response_head(event.status_code, headers) + event.body

    def error_response(self, error: RemoteProtocolError) -> bytes:
        """Build the response to a request that failed :meth:`receive_data`.

        Works in any state. The body is ``text/plain``: the status line's phrase and the
        error's message, in ASCII (anything else backslash-escaped).

        Args:
            error: The error raised; its ``http_status`` is used, 400 when it is ``None``.

        Returns:
            The response bytes, with ``Connection: close``; close the connection once sent.
        """
        status = error.http_status or 400
        body = f"{status_phrase(status)}: {error}\n".encode("ascii", "backslashreplace")
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if status == 405:
            headers.append(("Allow", "GET"))  # RFC 7231 §6.5.5: a 405 MUST list Allow.
        connection = "close"
        if status == 426:
            # RFC 6455 §4.4: tell the client which version we speak. RFC 7231 §6.5.15: a 426
            # MUST carry Upgrade, which RFC 7230 §6.7 ties to "Connection: upgrade".
            headers += [("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")]
            connection = "Upgrade, close"
        headers += [("Content-Length", str(len(body))), ("Connection", connection)]
        self._answered = True
        self._parser = None
        return response_head(status, headers) + body
