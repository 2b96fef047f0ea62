"""Extension negotiation (RFC 6455 §9.1), for the opening handshake and for callers without one.

The opening handshake (``_handshake.py``) negotiates with :func:`negotiate_offers` and
:func:`accept_answers` on parsed headers. A caller whose handshake happens elsewhere (an HTTP/2
extended CONNECT, RFC 8441; an ASGI server's upgrade) negotiates with the header-level
functions :func:`offer_extensions`, :func:`answer_extension_offers` and
:func:`accept_extension_answer`, then hands the negotiated instances to
:meth:`Connection.opened() <trio_ws.protocol.Connection.opened>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._errors import RemoteProtocolError
from ._headers import parse_extensions, serialize_extension
from .extensions._base import Extension, ExtensionParams

__all__ = [
    "accept_answers",
    "accept_extension_answer",
    "answer_extension_offers",
    "negotiate_offers",
    "offer_extensions",
]


def negotiate_offers(
    offers: Sequence[tuple[str, ExtensionParams]], extensions: Sequence[Extension]
) -> tuple[list[Extension], list[str]]:
    """Server side: answer parsed offers, walking them in the client's order.

    Each offer naming a configured extension not yet accepted goes to that extension's
    :meth:`~Extension.accept_offer`, which accepts it or declines it (the walk goes on).

    Returns:
        The accepted extensions, and their answers as ``Sec-WebSocket-Extensions`` elements.
    """
    accepted: list[Extension] = []
    answers: list[str] = []
    for name, params in offers:
        for extension in extensions:
            if extension.name != name or any(e.name == name for e in accepted):
                continue
            answer = extension.accept_offer(params)
            if answer is not None:
                accepted.append(extension)
                answers.append(serialize_extension(name, answer))
            break
    return accepted, answers


def accept_answers(
    answers: Sequence[tuple[str, ExtensionParams]], offered: Sequence[Extension]
) -> list[Extension]:
    """Client side: configure the offered extensions from the server's parsed answers.

    Raises:
        RemoteProtocolError: an answer names an extension that was not offered, names one
            twice, or has parameters its extension refuses (RFC 6455 §9.1: the client fails
            the connection).
    """
    by_name = {extension.name: extension for extension in offered}
    accepted: list[Extension] = []
    for name, params in answers:
        extension = by_name.get(name)
        if extension is None:
            raise RemoteProtocolError(f"server accepted extension {name!r}, which was not offered")
        if extension in accepted:
            raise RemoteProtocolError(f"server accepted extension {name!r} twice")
        extension.accept_response(params)  # its RemoteProtocolError fails the handshake
        accepted.append(extension)
    return accepted


def _parse(values: Iterable[str], what: str) -> list[tuple[str, ExtensionParams]]:
    try:
        return parse_extensions(values)
    except ValueError as exc:
        raise RemoteProtocolError(f"invalid Sec-WebSocket-Extensions {what}: {exc}") from None


def offer_extensions(extensions: Sequence[Extension]) -> str | None:
    """Client side: the ``Sec-WebSocket-Extensions`` value that offers ``extensions``.

    Args:
        extensions: Fresh extension instances, in order of preference; each one is then
            waiting for :func:`accept_extension_answer`.

    Returns:
        The header value, or ``None`` when there is nothing to offer.
    """
    offers = [serialize_extension(ext.name, ext.offer()) for ext in extensions]
    return ", ".join(offers) if offers else None


def answer_extension_offers(
    values: Iterable[str], extensions: Sequence[Extension]
) -> tuple[list[Extension], str | None]:
    """Server side: answer a client's ``Sec-WebSocket-Extensions`` values.

    Args:
        values: Every value of the client's header, in order.
        extensions: Fresh instances of the extensions this server supports.

    Returns:
        The negotiated extensions, for :meth:`Connection.opened()
        <trio_ws.protocol.Connection.opened>`, and the value of the answer's
        ``Sec-WebSocket-Extensions`` header (``None``: send no such header).

    Raises:
        RemoteProtocolError: a value does not follow RFC 6455 §9.1's grammar (answer 400).
    """
    accepted, answers = negotiate_offers(_parse(values, "offer"), extensions)
    return accepted, ", ".join(answers) if answers else None


def accept_extension_answer(
    values: Iterable[str], offered: Sequence[Extension]
) -> list[Extension]:
    """Client side: read the server's ``Sec-WebSocket-Extensions`` values.

    Args:
        values: Every value of the server's header, in order.
        offered: The instances given to :func:`offer_extensions`.

    Returns:
        The negotiated extensions, for :meth:`Connection.opened()
        <trio_ws.protocol.Connection.opened>`.

    Raises:
        RemoteProtocolError: the answer is invalid or does not match the offer (the client
            must then fail the connection, RFC 6455 §9.1).
    """
    return accept_answers(_parse(values, "answer"), offered)
