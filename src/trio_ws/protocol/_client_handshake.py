"""The client's side of the HTTP/1.1 opening handshake (RFC 6455 §4.1), parsed with h11.

It builds the request, then reads the server's answer: a valid ``101 Switching Protocols``
(:class:`ClientAccepted`, with whatever followed the head, which belongs to the framing
layer) or a refusal (:class:`ClientRejected`, with its body).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import final

import h11

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import AcceptConnection, RejectConnection, Request
from ._handshake import (
    CLOSED_DURING_HANDSHAKE,
    OWNED,
    HeadParser,
    accept_value,
    check_owned,
    generate_key,
    show,
)
from ._headers import (
    decode_headers,
    header_values,
    parse_extensions,
    parse_subprotocols,
    parse_token_list,
    serialize_extension,
)
from ._limits import Limits
from ._negotiation import accept_answers
from .extensions._base import Extension

__all__ = ["ClientAccepted", "ClientHandshake", "ClientRejected"]


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
        self._parser: HeadParser | None = None
        self._key = ""
        self._subprotocols: tuple[str, ...] = ()
        self._response: h11.Response | None = None
        self._body = bytearray()
        self._over = False  # the outcome (or a failure) was given: nothing more to read

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
        check_owned(event.headers, OWNED, "Request.headers")
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
        parser = HeadParser(server=False, limits=self._limits)
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
            self._over = True
            raise RemoteProtocolError(CLOSED_DURING_HANDSHAKE)
        parser.feed(b"")
        try:
            outcome = self._pump(parser)
        except RemoteProtocolError:
            outcome = None
        if outcome is None:
            self._over = True
            raise RemoteProtocolError(CLOSED_DURING_HANDSHAKE)
        return outcome

    def _check_receiving(self) -> HeadParser:
        if self._parser is None:
            raise LocalProtocolError("send the handshake request first")
        if self._over:
            raise LocalProtocolError("the opening handshake is over")
        return self._parser

    def _pump(self, parser: HeadParser) -> ClientAccepted | ClientRejected | None:
        try:
            while True:
                event = parser.next_event()
                if event is None:
                    return None
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        self._over = True
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
            self._over = True
            raise

    def _rejected(self) -> ClientRejected:
        self._over = True
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
                f"101 response has a wrong Sec-WebSocket-Accept {show(accepts[0])}"
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
