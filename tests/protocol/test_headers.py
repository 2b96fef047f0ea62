"""Header grammars: token lists, subprotocol lists, extension lists (RFC 7230, RFC 6455 §9.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol._errors import LocalProtocolError
from trio_ws.protocol._headers import (
    decode_headers,
    header_values,
    is_token,
    parse_extensions,
    parse_subprotocols,
    parse_token_list,
    response_head,
    serialize_extension,
    status_phrase,
)

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TCHARS, min_size=1, max_size=12)
params = st.lists(st.tuples(tokens, st.none() | tokens), max_size=4)
extensions = st.lists(st.tuples(tokens, params), max_size=4)


class TestTokens:
    """RFC 7230 §3.2.6 tokens."""

    @pytest.mark.parametrize("value", ["websocket", "permessage-deflate", "a", TCHARS])
    def test_tokens(self, value: str) -> None:
        assert is_token(value)

    @pytest.mark.parametrize("value", ["", "a b", "a,b", 'a"', "a/b", "a;b", "é", "a\tb"])
    def test_not_tokens(self, value: str) -> None:
        assert not is_token(value)


class TestTokenLists:
    """RFC 7230 §7 comma lists, for Connection and Upgrade (RFC 6455 §4.1, §4.2.1)."""

    def test_lower_cased_with_ows(self) -> None:
        assert parse_token_list(["keep-alive, Upgrade"]) == ["keep-alive", "upgrade"]
        assert parse_token_list(["\tWebSocket\t"]) == ["websocket"]

    def test_several_values_and_empty_elements(self) -> None:
        assert parse_token_list(["a,, ,b", "", ",C,"]) == ["a", "b", "c"]

    def test_non_token_kept_so_it_never_matches(self) -> None:
        assert parse_token_list(["websocket/13, h2c"]) == ["websocket/13", "h2c"]

    def test_nothing(self) -> None:
        assert parse_token_list([]) == []


class TestSubprotocols:
    """RFC 6455 §4.1 item 10, §11.3.4: Sec-WebSocket-Protocol."""

    def test_case_preserved_in_order(self) -> None:
        assert parse_subprotocols(["Chat, superChat", "v2.json"]) == [
            "Chat",
            "superChat",
            "v2.json",
        ]

    def test_empty_elements_skipped(self) -> None:
        assert parse_subprotocols([" , chat ,"]) == ["chat"]
        assert parse_subprotocols([""]) == []

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("chat, a b", r"^subprotocol 'a b' is not a token$"),
            ('"chat"', r"^subprotocol '\"chat\"' is not a token$"),
            ("chat/1", r"^subprotocol 'chat/1' is not a token$"),
        ],
    )
    def test_non_token(self, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_subprotocols([value])


class TestParseExtensions:
    """RFC 6455 §9.1: Sec-WebSocket-Extensions."""

    def test_rfc7692_offers(self) -> None:
        value = (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
            "permessage-deflate; client_max_window_bits"
        )
        assert parse_extensions([value]) == [
            (
                "permessage-deflate",
                [("client_max_window_bits", None), ("server_max_window_bits", "10")],
            ),
            ("permessage-deflate", [("client_max_window_bits", None)]),
        ]

    def test_several_headers_and_no_params(self) -> None:
        assert parse_extensions(["x-a", "x-b;p", "X-C"]) == [
            ("x-a", []),
            ("x-b", [("p", None)]),
            ("X-C", []),
        ]

    def test_ows_everywhere(self) -> None:
        assert parse_extensions([" x ;\ta = 1 ; b\t, y "]) == [
            ("x", [("a", "1"), ("b", None)]),
            ("y", []),
        ]

    def test_quoted_values_are_unquoted(self) -> None:
        assert parse_extensions(['x; a="10"; b="v\\2"']) == [("x", [("a", "10"), ("b", "v2")])]

    def test_empty_elements_skipped(self) -> None:
        assert parse_extensions([", x ,, y,", "", " , "]) == [("x", []), ("y", [])]

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("x; a=", r"^expected a value for parameter 'a' at end of value$"),
            ("x; =1", r"^expected a parameter name at '=1'$"),
            ("x;; a", r"^expected a parameter name at '; a'$"),
            ("x; a=1 2", r"^expected ',' or ';' at '2'$"),
            ("x y", r"^expected ',' or ';' at 'y'$"),
            ("/x", r"^expected an extension name at '/x'$"),
            ('x; a="1', r"^expected a closing quote at '\"1'$"),
            ('x; a="1 2"', r"^quoted value '1 2' of parameter 'a' is not a token$"),
            ('x; a=""', r"^quoted value '' of parameter 'a' is not a token$"),
            ("x; a=b=c", r"^expected ',' or ';' at '=c'$"),
        ],
    )
    def test_bad_syntax(self, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_extensions([value])

    def test_error_quotes_at_most_30_characters(self) -> None:
        with pytest.raises(ValueError, match=r"^expected an extension name at '/{30}'$"):
            parse_extensions(["/" * 100])


class TestSerializeExtension:
    """RFC 6455 §9.1, the writing side."""

    def test_shape(self) -> None:
        params = [("client_max_window_bits", "10"), ("server_no_context_takeover", None)]
        assert (
            serialize_extension("permessage-deflate", params)
            == "permessage-deflate; client_max_window_bits=10; server_no_context_takeover"
        )
        assert serialize_extension("x", []) == "x"

    @pytest.mark.parametrize(
        ("name", "params", "message"),
        [
            ("a b", [], r"^extension name 'a b' is not a token$"),
            ("x", [("a=", None)], r"^parameter name 'a=' of extension 'x' is not a token$"),
            ("x", [("a", "1 2")], r"^value '1 2' of parameter 'a' is not a token$"),
            ("x", [("a", "")], r"^value '' of parameter 'a' is not a token$"),
        ],
    )
    def test_non_tokens(
        self, name: str, params: list[tuple[str, str | None]], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            serialize_extension(name, params)

    @given(extensions, st.integers(min_value=1, max_value=4))
    def test_round_trip(
        self, items: list[tuple[str, list[tuple[str, str | None]]]], n: int
    ) -> None:
        elements = [serialize_extension(name, p) for name, p in items]
        # The same list, spread over n header lines.
        values = [", ".join(elements[i::n]) for i in range(n)]
        expected = [item for i in range(n) for item in items[i::n]]
        assert parse_extensions(values) == expected

    @given(extensions, st.data())
    def test_quoted_or_not_parses_the_same(
        self, items: list[tuple[str, list[tuple[str, str | None]]]], data: st.DataObject
    ) -> None:
        parts = []
        for name, p in items:
            element = name
            for key, value in p:
                if value is None:
                    element += f" ;{key}"
                elif data.draw(st.booleans()):
                    escaped = "".join("\\" + c if data.draw(st.booleans()) else c for c in value)
                    element += f'; {key}="{escaped}"'
                else:
                    element += f";{key} = {value}"
            parts.append(element)
        assert parse_extensions([" ,\t".join(parts)]) == items


class TestHttpHelpers:
    """RFC 7230 §3: header fields and response heads."""

    def test_decode_and_look_up(self) -> None:
        headers = decode_headers([(b"x-a", b"1"), (b"x-b", b"caf\xe9"), (b"x-a", b"2")])
        assert headers == (("x-a", "1"), ("x-b", "caf\xe9"), ("x-a", "2"))
        assert header_values(headers, "x-a") == ["1", "2"]
        assert header_values(headers, "x-c") == []

    def test_response_head(self) -> None:
        assert response_head(101, [("Upgrade", "websocket")]) == (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        )
        assert status_phrase(599) == "Unknown"
        with pytest.raises(LocalProtocolError, match=r"^header values must be latin-1 text$"):
            response_head(200, [("X", "\u2603")])
