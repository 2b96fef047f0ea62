"""The server's side of the HTTP/1.1 opening handshake (RFC 6455 §4.2), parsed with h11.

It reads the request and checks that it asks for a WebSocket, then builds the answer: the
``101 Switching Protocols`` that accepts it, a refusal, or the error response for a request
that broke a rule. Responses are built directly rather than through h11, so that an error
response can be written whatever state the parser ended in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import final

import h11

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import AcceptConnection, RejectConnection, Request
from ._handshake import (
    CLOSED_DURING_HANDSHAKE,
    OWNED,
    REJECT_OWNED,
    HeadParser,
    accept_value,
    check_owned,
    handshake_error,
    show,
)
from ._headers import (
    decode_headers,
    parse_extensions,
    parse_subprotocols,
    parse_token_list,
    response_head,
    serialize_extension,
    status_phrase,
)
from ._limits import Limits
from ._negotiation import negotiate_offers
from .extensions._base import Extension, ExtensionParams

__all__ = ["ServerHandshake"]


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
        self._parser: HeadParser | None = HeadParser(server=True, limits=limits)
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
            raise RemoteProtocolError(CLOSED_DURING_HANDSHAKE, http_status=None)

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
            raise handshake_error(f"HTTP/{version} request: the handshake needs HTTP/1.1")
        if method != "GET":
            raise handshake_error(
                f"method {show(method)} is not allowed: the handshake is a GET", 405
            )
        lengths = fields.get("content-length", [])  # h11 checked these are digits
        if fields.get("transfer-encoding", []) or any(int(v) for v in lengths):
            raise handshake_error("request has a body: a handshake GET must not")
        # RFC 6455 §4.1 item 3: the Request-URI is origin-form (a path and an optional query).
        if not target.startswith("/") or "#" in target:
            raise handshake_error(f"request target {show(target)} is not in origin-form")
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
            raise handshake_error(f"invalid request: {exc}") from None
        return self._request

    def _check_websocket(self, fields: dict[str, list[str]]) -> list[str]:
        # RFC 6455 §4.2.1 item 4: |Connection| includes the token "Upgrade" (case-insensitive).
        if "upgrade" not in parse_token_list(fields.get("connection", [])):
            raise handshake_error(
                "request has 'Upgrade: websocket' but lacks 'Connection: upgrade'"
            )
        # Item 5: |Sec-WebSocket-Key| base64-decodes to 16 bytes; §11.3.1: it appears once.
        keys = fields.get("sec-websocket-key", [])
        if len(keys) != 1:
            raise handshake_error(
                f"request has {len(keys)} Sec-WebSocket-Key headers instead of 1"
            )
        try:
            decoded = base64.b64decode(keys[0], validate=True)
        except binascii.Error:
            decoded = b""
        if len(decoded) != 16:
            raise handshake_error(f"Sec-WebSocket-Key {show(keys[0])} is not base64 of 16 bytes")
        self._key = keys[0]
        # Item 6 and §4.4: version 13, else 426 with |Sec-WebSocket-Version: 13|.
        version = ", ".join(fields.get("sec-websocket-version", []))
        if not version:
            raise handshake_error("request lacks Sec-WebSocket-Version", 426)
        if version != "13":
            message = f"unsupported Sec-WebSocket-Version {show(version)}"
            raise handshake_error(f"{message}: this server supports only 13", 426)
        try:
            subprotocols = parse_subprotocols(fields.get("sec-websocket-protocol", []))
        except ValueError as exc:
            raise handshake_error(f"invalid Sec-WebSocket-Protocol header: {exc}") from None
        try:
            self._offers = parse_extensions(fields.get("sec-websocket-extensions", []))
        except ValueError as exc:
            raise handshake_error(f"invalid Sec-WebSocket-Extensions header: {exc}") from None
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
        check_owned(event.headers, OWNED, "AcceptConnection.headers")
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
        check_owned(event.headers, REJECT_OWNED, "RejectConnection.headers")
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
