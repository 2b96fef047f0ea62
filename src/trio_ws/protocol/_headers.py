"""Header grammars of the opening handshake (RFC 7230 §3.2.6, §7; RFC 6455 §9.1, §11.3).

This module owns the syntax of the header values the handshake reads and writes: comma
lists of tokens (``Connection``, ``Upgrade``), subprotocol lists (``Sec-WebSocket-Protocol``)
and extension lists with parameters (``Sec-WebSocket-Extensions``), plus the small helpers
that decode h11's fields and write a response head. It knows nothing of the meaning of a
value: what is offered, accepted or required is decided in ``_handshake.py``.

Every parser takes all the values of a header (a header repeated on several lines is the
same as one line joining them with commas, RFC 7230 §3.2.2) and skips empty list elements,
which RFC 7230 §7 says recipients must accept. Parsers raise :class:`ValueError` with a
message naming the problem; the handshake turns it into a protocol error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from http import HTTPStatus

from ._errors import LocalProtocolError
from .extensions._base import ExtensionParams

__all__ = [
    "decode_headers",
    "header_values",
    "is_token",
    "parse_extensions",
    "parse_subprotocols",
    "parse_token_list",
    "response_head",
    "serialize_extension",
    "status_phrase",
]

# RFC 7230 §3.2.6: token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7230 §3.2.3: OWS = *( SP / HTAB ).
_OWS = re.compile(r"[ \t]*")
# RFC 7230 §3.2.6: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, with
# qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text and
# quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
_QUOTED_STRING = re.compile(
    r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"'
)
_QUOTED_PAIR = re.compile(r"\\(.)")

# Longest stretch of a bad header value quoted back in an error message.
_SHOWN = 30


def is_token(value: str) -> bool:
    """Tell whether ``value`` is an RFC 7230 token (``1*tchar``).

    Args:
        value: The string to check.

    Returns:
        ``True`` for a token such as ``permessage-deflate``.
    """
    return _TOKEN.fullmatch(value) is not None


def _show(text: str, pos: int) -> str:
    rest = text[pos : pos + _SHOWN]
    return f"{rest!r}" if rest else "end of value"


def _elements(values: Iterable[str]) -> Iterable[str]:
    """Split comma lists into stripped, non-empty elements (no quoting understood)."""
    for value in values:
        for element in value.split(","):
            element = element.strip(" \t")
            if element:
                yield element


def parse_token_list(values: Iterable[str]) -> list[str]:
    """Parse comma lists of tokens such as ``Connection`` or ``Upgrade`` (RFC 7230 §7).

    Meant for membership tests (``"upgrade" in parse_token_list(...)``): elements are
    lower-cased, because these tokens compare case-insensitively (RFC 7230 §6.1, §6.7), and
    an element that is not a token (``websocket/13``) is kept as written rather than
    rejected, so it simply never matches.

    Args:
        values: Every value of the header, in order.

    Returns:
        The elements, lower-cased, empty ones skipped.
    """
    return [element.lower() for element in _elements(values)]


def parse_subprotocols(values: Iterable[str]) -> list[str]:
    """Parse ``Sec-WebSocket-Protocol`` values: comma lists of tokens (RFC 6455 §4.1, §11.3.4).

    Args:
        values: Every value of the header, in order.

    Returns:
        The subprotocols in order, case preserved, empty elements skipped.

    Raises:
        ValueError: An element is not a token.
    """
    subprotocols = []
    for element in _elements(values):
        if not is_token(element):
            raise ValueError(f"subprotocol {element[:_SHOWN]!r} is not a token")
        subprotocols.append(element)
    return subprotocols


class _Cursor:
    """A position in one header value, for the recursive-descent extension parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip_ows(self) -> None:
        match = _OWS.match(self.text, self.pos)
        assert match is not None  # OWS matches the empty string
        self.pos = match.end()

    def expect(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise ValueError(f"expected {what} at {_show(self.text, self.pos)}")
        self.pos = match.end()
        return match


def _parse_param(cursor: _Cursor) -> tuple[str, str | None]:
    # RFC 6455 §9.1: extension-param = token [ "=" (token | quoted-string) ].
    name = cursor.expect(_TOKEN, "a parameter name").group()
    cursor.skip_ows()
    if cursor.peek() != "=":
        return name, None
    cursor.pos += 1
    cursor.skip_ows()
    if cursor.peek() == '"':
        quoted = cursor.expect(_QUOTED_STRING, "a closing quote")
        value = _QUOTED_PAIR.sub(r"\1", quoted.group(1))
        # RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the
        # 'token' ABNF".
        if not is_token(value):
            raise ValueError(
                f"quoted value {value[:_SHOWN]!r} of parameter {name!r} is not a token"
            )
        return name, value
    return name, cursor.expect(_TOKEN, f"a value for parameter {name!r}").group()


def _parse_extension_value(text: str) -> list[tuple[str, ExtensionParams]]:
    extensions: list[tuple[str, ExtensionParams]] = []
    cursor = _Cursor(text)
    while True:
        # RFC 7230 §7: a recipient accepts (and skips) empty list elements.
        cursor.skip_ows()
        while cursor.peek() == ",":
            cursor.pos += 1
            cursor.skip_ows()
        if cursor.at_end():
            return extensions
        # RFC 6455 §9.1: extension = extension-token *( ";" extension-param ).
        name = cursor.expect(_TOKEN, "an extension name").group()
        params: ExtensionParams = []
        cursor.skip_ows()
        while cursor.peek() == ";":
            cursor.pos += 1
            cursor.skip_ows()
            params.append(_parse_param(cursor))
            cursor.skip_ows()
        extensions.append((name, params))
        if not cursor.at_end() and cursor.peek() != ",":
            raise ValueError(f"expected ',' or ';' at {_show(text, cursor.pos)}")


def parse_extensions(values: Iterable[str]) -> list[tuple[str, ExtensionParams]]:
    """Parse ``Sec-WebSocket-Extensions`` values (RFC 6455 §9.1).

    ``permessage-deflate; client_max_window_bits, x-foo; a="1"`` gives
    ``[("permessage-deflate", [("client_max_window_bits", None)]), ("x-foo", [("a", "1")])]``.

    Args:
        values: Every value of the header, in order.

    Returns:
        Each extension in order with its parameters in order; quoted values are unquoted.
        Names keep their case.

    Raises:
        ValueError: A value does not follow the grammar; the message says where.
    """
    extensions: list[tuple[str, ExtensionParams]] = []
    for value in values:
        extensions.extend(_parse_extension_value(value))
    return extensions


def serialize_extension(name: str, params: ExtensionParams) -> str:
    """Write one extension with its parameters as a ``Sec-WebSocket-Extensions`` element.

    Args:
        name: The extension token.
        params: The parameters in order; ``None`` for a parameter without a value.

    Returns:
        ``"permessage-deflate; client_max_window_bits=10; server_no_context_takeover"``.

    Raises:
        ValueError: The name, a parameter name or a value is not a token (RFC 6455 §9.1
            requires values to be tokens, quoted or not, so quoting is never needed).
    """
    if not is_token(name):
        raise ValueError(f"extension name {name!r} is not a token")
    parts = [name]
    for key, value in params:
        if not is_token(key):
            raise ValueError(f"parameter name {key!r} of extension {name!r} is not a token")
        if value is None:
            parts.append(key)
        elif is_token(value):
            parts.append(f"{key}={value}")
        else:
            raise ValueError(f"value {value!r} of parameter {key!r} is not a token")
    return "; ".join(parts)


# --- Header fields of an HTTP/1.1 message ---------------------------------------------------


def decode_headers(raw: Sequence[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    """Decode h11's header fields: names as h11 gives them (lower-cased), values latin-1.

    Args:
        raw: ``(name, value)`` byte pairs.

    Returns:
        The same pairs as text, in order.
    """
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)


def header_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Return the values of every field called ``name`` (lower-case), in order.

    Args:
        headers: Decoded header fields with lower-cased names.
        name: The lower-case field name.

    Returns:
        The values, possibly none.
    """
    return [value for key, value in headers if key == name]


def status_phrase(status: int) -> str:
    """Return the reason phrase of an HTTP status, or ``"Unknown"``.

    Args:
        status: The status code.

    Returns:
        ``"Switching Protocols"`` for 101, and so on.
    """
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def response_head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    """Serialize the head of an HTTP/1.1 response (RFC 7230 §3).

    Args:
        status: The status code.
        headers: The header fields, already valid (no CR, LF or NUL).

    Returns:
        The status line, the fields and the blank line, latin-1 encoded.

    Raises:
        LocalProtocolError: A field holds a character latin-1 cannot encode.
    """
    lines = [f"HTTP/1.1 {status} {status_phrase(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError("header values must be latin-1 text") from None
