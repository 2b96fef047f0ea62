"""Tests of permessage-deflate (RFC 7692), grouped by RFC section."""

from __future__ import annotations

import gc
import itertools
import re
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol._errors import LocalProtocolError, MessageTooBig, RemoteProtocolError
from trio_ws.protocol.extensions import Extension, ExtensionParams, PerMessageDeflate

HELLO = bytes.fromhex("f2 48 cd c9 c9 07 00")
RSV1 = 0x40


def negotiate(
    client_kwargs: dict[str, Any] | None = None, server_kwargs: dict[str, Any] | None = None
) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    client = PerMessageDeflate(**(client_kwargs or {}))
    server = PerMessageDeflate(**(server_kwargs or {}))
    answer = server.accept_offer(client.offer())
    assert answer is not None
    client.accept_response(answer)
    return client, server


def encode_message(
    ext: PerMessageDeflate, frames: list[bytes], compress: bool | None = None
) -> list[tuple[int, bytes]]:
    return [
        ext.encode(data, first=i == 0, fin=i == len(frames) - 1, compress=compress)
        for i, data in enumerate(frames)
    ]


def decode_message(
    ext: PerMessageDeflate, frames: list[tuple[int, bytes]], max_size: int | None = None
) -> bytes:
    rsv = frames[0][0]
    output = b""
    for i, (_, payload) in enumerate(frames):
        budget = None if max_size is None else max_size - len(output)
        chunk = ext.decode(payload, rsv=rsv, fin=i == len(frames) - 1, max_size=budget)
        assert budget is None or len(chunk) <= budget
        output += chunk
    return output


def test_extension_interface() -> None:
    ext = PerMessageDeflate()
    assert isinstance(ext, Extension)
    assert PerMessageDeflate.name == "permessage-deflate"
    assert PerMessageDeflate.rsv_mask == 0x40
    assert repr(ext) == "<PerMessageDeflate (not negotiated)>"
    client, server = negotiate()
    assert repr(server) == (
        "<PerMessageDeflate send: window_bits=12, no_context_takeover=False; "
        "receive: window_bits=12, no_context_takeover=False>"
    )
    assert repr(client) == (
        "<PerMessageDeflate send: window_bits=12, no_context_takeover=False; "
        "receive: window_bits=15, no_context_takeover=False>"
    )


# --- RFC 7692 §7.2.3: examples, exact bytes ------------------------------------------------


class TestSection7_2_3:
    def test_7_2_3_1_one_compressed_block(self) -> None:
        client, server = negotiate()
        assert server.encode(b"Hello", first=True, fin=True, compress=True) == (RSV1, HELLO)
        assert client.decode(HELLO, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    def test_7_2_3_1_fragmented(self) -> None:
        client, _ = negotiate()
        frames = [(RSV1, bytes.fromhex("f2 48")), (0, bytes.fromhex("cd c9 c9 07 00"))]
        assert decode_message(client, frames) == b"Hello"

    def test_7_2_3_2_sharing_the_window(self) -> None:
        client, server = negotiate()
        again = bytes.fromhex("f2 00 11 00 00")
        assert server.encode(b"Hello", first=True, fin=True, compress=True) == (RSV1, HELLO)
        assert server.encode(b"Hello", first=True, fin=True, compress=True) == (RSV1, again)
        assert client.decode(HELLO, rsv=RSV1, fin=True, max_size=None) == b"Hello"
        assert client.decode(again, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    @pytest.mark.parametrize("side", ["server", "client"])
    def test_7_2_3_2_no_context_takeover(self, side: str) -> None:
        client, server = negotiate({f"{side}_no_context_takeover": True})
        sender, receiver = (server, client) if side == "server" else (client, server)
        for _ in range(3):
            assert sender.encode(b"Hello", first=True, fin=True, compress=True) == (RSV1, HELLO)
            assert receiver.decode(HELLO, rsv=RSV1, fin=True, max_size=None) == b"Hello"
        # The other direction keeps its context.
        receiver.encode(b"Hello", first=True, fin=True, compress=True)
        assert receiver.encode(b"Hello", first=True, fin=True, compress=True)[1] != HELLO

    def test_7_2_3_3_stored_block(self) -> None:
        client, _ = negotiate()
        payload = bytes.fromhex("00 05 00 fa ff 48 65 6c 6c 6f 00")
        assert client.decode(payload, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    def test_7_2_3_4_bfinal(self) -> None:
        client, _ = negotiate()
        payload = bytes.fromhex("f3 48 cd c9 c9 07 00 00")
        assert client.decode(payload, rsv=RSV1, fin=True, max_size=None) == b"Hello"
        # A new DEFLATE stream starts with the next message.
        assert client.decode(HELLO, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    def test_7_2_3_4_bfinal_then_padding_frames(self) -> None:
        client, _ = negotiate()
        frames = [(RSV1, bytes.fromhex("f3 48 cd c9 c9 07 00")), (0, b"\x00"), (0, b"\x00")]
        assert decode_message(client, frames) == b"Hello"

    def test_7_2_3_5_two_blocks(self) -> None:
        client, _ = negotiate()
        payload = bytes.fromhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")
        assert client.decode(payload, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    def test_7_2_3_6_empty_fragment(self) -> None:
        client, server = negotiate()
        frames = encode_message(server, [b"Hello", b""], compress=True)
        assert frames == [(RSV1, HELLO + bytes.fromhex("00 00 ff ff")), (0, b"\x00")]
        assert decode_message(client, frames) == b"Hello"

    def test_empty_compressed_message(self) -> None:
        client, server = negotiate()
        assert server.encode(b"", first=True, fin=True, compress=True) == (RSV1, b"\x00")
        assert client.decode(b"\x00", rsv=RSV1, fin=True, max_size=0) == b""
        assert client.decode(b"", rsv=RSV1, fin=True, max_size=0) == b""


# --- RFC 7692 §6 and §7.2.1: frames and RSV1 -------------------------------------------------


class TestSection6Frames:
    def test_rsv1_on_first_frame_only_and_tail_kept_until_fin(self) -> None:
        client, server = negotiate()
        frames = encode_message(client, [b"a" * 200, b"b" * 200, b"c" * 200])
        assert [rsv for rsv, _ in frames] == [RSV1, 0, 0]
        assert frames[0][1].endswith(b"\x00\x00\xff\xff")
        assert frames[1][1].endswith(b"\x00\x00\xff\xff")
        assert not frames[2][1].endswith(b"\x00\x00\xff\xff")
        assert decode_message(server, frames) == b"a" * 200 + b"b" * 200 + b"c" * 200

    def test_streamed_decode_returns_each_frame_at_once(self) -> None:
        client, server = negotiate()
        frames = encode_message(client, [b"first " * 50, b"second " * 50, b"third"])
        rsv = frames[0][0]
        assert server.decode(frames[0][1], rsv=rsv, fin=False, max_size=None) == b"first " * 50
        assert server.decode(frames[1][1], rsv=rsv, fin=False, max_size=None) == b"second " * 50
        assert server.decode(frames[2][1], rsv=rsv, fin=True, max_size=None) == b"third"

    def test_uncompressed_message_passes_through(self) -> None:
        client, _ = negotiate()
        assert client.decode(b"\xff not deflate", rsv=0, fin=True, max_size=None) == (
            b"\xff not deflate"
        )
        # Other RSV bits are the connection's business, not ours.
        assert client.decode(b"raw", rsv=0x20, fin=True, max_size=0) == b"raw"


class TestPerMessageControl:
    def test_threshold_default(self) -> None:
        client, _ = negotiate()
        assert client.encode(b"x" * 127, first=True, fin=True, compress=None) == (0, b"x" * 127)
        rsv, payload = client.encode(b"x" * 128, first=True, fin=True, compress=None)
        assert rsv == RSV1
        assert len(payload) < 128

    def test_threshold_setting(self) -> None:
        client, _ = negotiate({"threshold": 0})
        assert client.encode(b"", first=True, fin=True, compress=None) == (RSV1, b"\x00")
        client, _ = negotiate({"threshold": 1000})
        assert client.encode(b"x" * 999, first=True, fin=True, compress=None)[0] == 0

    def test_compress_false_and_true_force(self) -> None:
        client, server = negotiate()
        big = b"y" * 10_000
        assert client.encode(big, first=True, fin=True, compress=False) == (0, big)
        rsv, payload = client.encode(b"hi", first=True, fin=True, compress=True)
        assert rsv == RSV1
        assert server.decode(payload, rsv=rsv, fin=True, max_size=None) == b"hi"

    def test_decision_taken_on_first_frame(self) -> None:
        client, _ = negotiate()
        frames = encode_message(client, [b"short", b"z" * 5000, b"z" * 5000])
        assert frames == [(0, b"short"), (0, b"z" * 5000), (0, b"z" * 5000)]
        # compress= on later frames is ignored.
        client.encode(b"z" * 500, first=True, fin=False, compress=True)
        rsv, payload = client.encode(b"z", first=False, fin=True, compress=False)
        assert rsv == 0
        assert payload != b"z"


# --- RFC 7692 §7.1: negotiation -----------------------------------------------------------


class TestSection7_1Offer:
    def test_default_offer(self) -> None:
        assert PerMessageDeflate().offer() == [("client_max_window_bits", None)]

    def test_full_offer(self) -> None:
        ext = PerMessageDeflate(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10,
            client_max_window_bits=11,
        )
        assert ext.offer() == [
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("server_max_window_bits", "10"),
            ("client_max_window_bits", "11"),
        ]


class TestSection7_1ServerAnswer:
    @pytest.mark.parametrize(
        ("offer", "answer"),
        [
            # §7.1.3: the simplest offer; no client_max_window_bits in it, none in the answer,
            # and no unrequested server_max_window_bits either (some clients choke on it).
            ([], []),
            ([("client_max_window_bits", None)], [("client_max_window_bits", "12")]),
            ([("client_max_window_bits", "13")], [("client_max_window_bits", "12")]),
            # Already within our limit: still answered (RFC 7692 §7.1.2.2), or the client may
            # deflate with 15 bits while we inflate with 10 (issue 15).
            ([("client_max_window_bits", "10")], [("client_max_window_bits", "10")]),
            ([("client_max_window_bits", "8")], [("client_max_window_bits", "8")]),
            ([("server_max_window_bits", "10")], [("server_max_window_bits", "10")]),
            ([("server_max_window_bits", "15")], [("server_max_window_bits", "12")]),
            (
                [("server_no_context_takeover", None), ("client_no_context_takeover", None)],
                [("server_no_context_takeover", None), ("client_no_context_takeover", None)],
            ),
        ],
    )
    def test_answers(self, offer: ExtensionParams, answer: ExtensionParams) -> None:
        assert PerMessageDeflate().accept_offer(offer) == answer

    def test_server_settings(self) -> None:
        server = PerMessageDeflate(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=15,
            client_max_window_bits=15,
        )
        assert server.accept_offer([("client_max_window_bits", None)]) == [
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("client_max_window_bits", "15"),
        ]

    @pytest.mark.parametrize(
        "offer",
        [
            [("mystery", None)],
            [("Server_No_Context_Takeover", None)],
            [("client_max_window_bits", None), ("client_max_window_bits", "10")],
            [("server_no_context_takeover", None), ("server_no_context_takeover", None)],
            [("server_no_context_takeover", "1")],
            [("client_no_context_takeover", "")],
            [("server_max_window_bits", None)],
            [("server_max_window_bits", "7")],
            [("server_max_window_bits", "16")],
            [("server_max_window_bits", "08")],
            [("server_max_window_bits", " 9")],
            [("client_max_window_bits", "abc")],
            [("client_max_window_bits", "0")],
            # zlib cannot deflate with an 8-bit window: a requirement we cannot meet.
            [("server_max_window_bits", "8")],
        ],
    )
    def test_declines(self, offer: ExtensionParams) -> None:
        server = PerMessageDeflate()
        assert server.accept_offer(offer) is None
        # Declining leaves the instance free to accept the next offer.
        assert server.accept_offer([]) == []

    def test_window_8_client_is_inflated_with_9(self) -> None:
        server = PerMessageDeflate()
        server.accept_offer([("client_max_window_bits", "8")])
        compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
        message = bytes(range(256)) * 8
        payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert server.decode(payload[:-4], rsv=RSV1, fin=True, max_size=None) == message


class TestSection7_1ClientChecksAnswer:
    @pytest.mark.parametrize(
        ("kwargs", "answer", "windows"),
        [
            ({}, [], (15, 15)),
            ({}, [("server_max_window_bits", "10")], (15, 10)),
            ({}, [("server_max_window_bits", "8")], (15, 9)),
            ({}, [("client_max_window_bits", "9")], (9, 15)),
            ({"client_max_window_bits": 11}, [("client_max_window_bits", "10")], (10, 15)),
            ({"client_max_window_bits": 11}, [], (11, 15)),
            ({"server_max_window_bits": 11}, [("server_max_window_bits", "11")], (15, 11)),
            ({"server_max_window_bits": 11}, [("server_max_window_bits", "9")], (15, 9)),
            # §7.1.1.1: the server may announce no context takeover unasked.
            ({}, [("server_no_context_takeover", None)], (15, 15)),
            ({}, [("client_no_context_takeover", None)], (15, 15)),
        ],
    )
    def test_accepts(
        self, kwargs: dict[str, Any], answer: ExtensionParams, windows: tuple[int, int]
    ) -> None:
        client = PerMessageDeflate(**kwargs)
        client.offer()
        client.accept_response(answer)
        send, receive = windows
        assert f"send: window_bits={send}," in repr(client)
        assert f"receive: window_bits={receive}," in repr(client)

    @pytest.mark.parametrize(
        ("kwargs", "answer", "message"),
        [
            ({}, [("x", None)], "invalid permessage-deflate response: unknown parameter 'x'"),
            (
                {},
                [("server_max_window_bits", "9"), ("server_max_window_bits", "9")],
                "invalid permessage-deflate response: duplicated parameter "
                "'server_max_window_bits'",
            ),
            (
                {},
                [("server_no_context_takeover", "yes")],
                "invalid permessage-deflate response: server_no_context_takeover takes no "
                "value, got 'yes'",
            ),
            (
                {},
                [("client_max_window_bits", "16")],
                "invalid permessage-deflate response: client_max_window_bits='16' is not an "
                "integer from 8 to 15",
            ),
            (
                {},
                [("server_max_window_bits", None)],
                "invalid permessage-deflate response: server_max_window_bits needs a value",
            ),
            (
                {"server_no_context_takeover": True},
                [],
                "unacceptable permessage-deflate response: server_no_context_takeover was "
                "requested but not accepted",
            ),
            (
                {"server_max_window_bits": 10},
                [],
                "unacceptable permessage-deflate response: server_max_window_bits=10 was "
                "requested but not accepted",
            ),
            (
                {"server_max_window_bits": 10},
                [("server_max_window_bits", "11")],
                "unacceptable permessage-deflate response: server_max_window_bits=11 is larger "
                "than 10",
            ),
            (
                {},
                [("client_max_window_bits", None)],
                "unacceptable permessage-deflate response: client_max_window_bits needs a value",
            ),
            (
                {"client_max_window_bits": 10},
                [("client_max_window_bits", "12")],
                "unacceptable permessage-deflate response: client_max_window_bits=12 is larger "
                "than 10",
            ),
            (
                {},
                [("client_max_window_bits", "8")],
                "unacceptable permessage-deflate response: client_max_window_bits=8 is not "
                "supported (zlib cannot deflate it)",
            ),
        ],
    )
    def test_fails(self, kwargs: dict[str, Any], answer: ExtensionParams, message: str) -> None:
        client = PerMessageDeflate(**kwargs)
        client.offer()
        with pytest.raises(RemoteProtocolError, match=f"^{re.escape(message)}$") as info:
            client.accept_response(answer)
        assert info.value.close_code is None


class TestMisuse:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"server_max_window_bits": 8}, "server_max_window_bits must be from 9 to 15"),
            ({"client_max_window_bits": 16}, "client_max_window_bits must be from 9 to 15"),
            ({"compress_level": 10}, "compress_level must be from -1 to 9, got 10"),
            ({"mem_level": 0}, "mem_level must be from 1 to 9, got 0"),
            ({"threshold": -1}, "threshold must not be negative, got -1"),
        ],
    )
    def test_constructor(self, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
            PerMessageDeflate(**kwargs)

    def test_order_of_calls(self) -> None:
        ext = PerMessageDeflate()
        with pytest.raises(LocalProtocolError, match=r"^accept_response\(\) must follow"):
            ext.accept_response([])
        with pytest.raises(LocalProtocolError, match=r"^permessage-deflate is not negotiated$"):
            ext.encode(b"", first=True, fin=True, compress=None)
        with pytest.raises(LocalProtocolError, match=r"^permessage-deflate is not negotiated$"):
            ext.decode(b"", rsv=0, fin=True, max_size=None)
        ext.offer()
        with pytest.raises(LocalProtocolError, match=r"^permessage-deflate is already"):
            ext.accept_offer([])
        ext.accept_response([])
        with pytest.raises(LocalProtocolError, match=r"^permessage-deflate is already"):
            ext.offer()
        with pytest.raises(LocalProtocolError, match=r"^accept_response\(\) must follow"):
            ext.accept_response([])
        server = PerMessageDeflate()
        server.accept_offer([])
        with pytest.raises(LocalProtocolError, match=r"^permessage-deflate is already"):
            server.accept_offer([])


# --- RFC 7692 §7.2.2: decompression failures and limits ---------------------------------------


class TestSection7_2_2Decompression:
    def test_invalid_data_is_1007(self) -> None:
        client, _ = negotiate()
        with pytest.raises(RemoteProtocolError, match=r"^invalid compressed data in ") as info:
            client.decode(b"\xff\xff\xff\xff", rsv=RSV1, fin=True, max_size=None)
        assert info.value.close_code == 1007
        # The next message starts from a fresh decompressor.
        assert client.decode(HELLO, rsv=RSV1, fin=True, max_size=None) == b"Hello"

    def test_window_larger_than_negotiated_is_1007(self) -> None:
        # The server agreed to a 512-byte window, then refers 2 KiB back into the previous
        # message (within one call zlib reads back into its output buffer, so the reference
        # must cross a message boundary to be caught).
        client, _ = negotiate({"server_max_window_bits": 9})
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = bytes(range(256)) * 4 + bytes(range(255, -1, -1)) * 4
        second = first[:300]
        for message in (first, second):
            payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if message is first:
                assert client.decode(payload[:-4], rsv=RSV1, fin=True, max_size=None) == first
        with pytest.raises(RemoteProtocolError, match="distance too far back") as info:
            client.decode(payload[:-4], rsv=RSV1, fin=True, max_size=None)
        assert info.value.close_code == 1007

    def test_exact_limit(self) -> None:
        client, server = negotiate()
        frames = encode_message(server, [b"a" * 1000, b"b" * 1000], compress=True)
        assert decode_message(client, frames, max_size=2000) == b"a" * 1000 + b"b" * 1000

    @pytest.mark.parametrize("limit", [0, 1, 999, 1999])
    def test_over_limit(self, limit: int) -> None:
        client, server = negotiate()
        frames = encode_message(server, [b"a" * 1000, b"b" * 1000], compress=True)
        with pytest.raises(MessageTooBig, match=r"^message too big: ") as info:
            decode_message(client, frames, max_size=limit)
        assert info.value.close_code == 1009

    @pytest.mark.parametrize("limit", [3, 4])
    def test_limit_applies_to_the_tail(self, limit: int) -> None:
        # A stored block announcing 4 bytes and ending the frame: RFC 7692 §7.2.2's
        # 00 00 ff ff becomes its content, and counts against the limit.
        client, _ = negotiate()
        frame = bytes.fromhex("00 04 00 fb ff")
        if limit == 4:
            assert client.decode(frame, rsv=RSV1, fin=True, max_size=limit) == b"\0\0\xff\xff"
        else:
            with pytest.raises(MessageTooBig):
                client.decode(frame, rsv=RSV1, fin=True, max_size=limit)


def zero_bomb_prefix() -> tuple[bytes, int]:
    """The head of a DEFLATE stream of zeros, and what each further zero byte inflates to.

    zlib at level 9 codes a run of zeros as a dynamic block whose "copy 258 bytes at distance
    1" code is a single 0 bit: after a short head, the stream is zero bytes, each worth
    4 x 258 = 1032 inflated bytes, deflate's best ratio. We cut the head off a real stream and
    append as many zero bytes as we like.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    stream = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    head = stream[: stream.index(bytes(16))]
    assert len(head) < 64
    probe = zlib.decompressobj(-15).decompress(head + bytes(4096))
    per_byte = (len(probe) - 1024) // 4096
    assert per_byte >= 1000
    return head, per_byte


class TestDecompressionBomb:
    def test_one_gib_bomb_is_refused_in_bounded_memory(self) -> None:
        head, per_byte = zero_bomb_prefix()
        bomb = head + bytes(1 << 20)  # 1 MiB + a few bytes
        assert len(bomb) * per_byte >= 1 << 30  # inflates to over 1 GiB
        client, _ = negotiate()
        gc.collect()
        tracemalloc.start()
        try:
            with pytest.raises(MessageTooBig) as info:
                client.decode(bomb, rsv=RSV1, fin=True, max_size=1 << 20)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert info.value.close_code == 1009
        # The output (at most max_size + 1 bytes) plus zlib's copy of the unread input
        # (unconsumed_tail, bounded by the frame size), never the 1 GiB.
        assert peak < 4 << 20, peak
        # (Not timed: a test bounds memory here, never speed.)

    def test_streamed_bomb_is_refused_in_its_frame(self) -> None:
        head, _ = zero_bomb_prefix()
        client, _ = negotiate()
        frames = [(RSV1, head)] + [(0, bytes(1024))] * 1024  # a few KiB per frame
        with pytest.raises(MessageTooBig):
            decode_message(client, frames, max_size=4 << 20)

    def test_small_bomb_within_limit_inflates(self) -> None:
        head, per_byte = zero_bomb_prefix()
        client, _ = negotiate()
        output = client.decode(head + bytes(4096), rsv=RSV1, fin=False, max_size=None)
        assert output == bytes(len(output))
        assert len(output) >= 4096 * per_byte


# --- Memory: zlib objects are created lazily and dropped without context takeover ------------


def traced(action: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = action()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return after - before


def test_idle_connections_hold_no_zlib_memory() -> None:
    per_connection = traced(lambda: [negotiate() for _ in range(100)]) / 200
    assert per_connection < 4096


def test_no_context_takeover_frees_zlib_memory_between_messages() -> None:
    def exchange(**kwargs: bool) -> Any:
        pairs = [negotiate(kwargs) for _ in range(50)]
        for client, server in pairs:
            frames = encode_message(client, [b"hello " * 100])
            assert decode_message(server, frames) == b"hello " * 100
        return pairs

    kept = traced(exchange) / 50
    freed = traced(lambda: exchange(client_no_context_takeover=True)) / 50
    assert kept > 32 * 1024
    assert freed < 4096


# --- Properties: any settings negotiate; any messages round-trip ----------------------------

window_bits = st.none() | st.integers(min_value=9, max_value=15)
settings = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": window_bits,
        "client_max_window_bits": window_bits,
        "compress_level": st.sampled_from([-1, 0, 1, 6, 9]),
        "mem_level": st.integers(min_value=1, max_value=9),
        "threshold": st.integers(min_value=0, max_value=64),
    }
)
payloads = (
    st.binary(max_size=600)
    | st.builds(
        lambda chunk, count: chunk * count,
        st.binary(min_size=1, max_size=24),
        st.integers(min_value=1, max_value=300),
    )
    | st.text(max_size=300).map(str.encode)
)
messages = st.lists(
    st.tuples(
        st.booleans(),  # True: the client sends
        payloads,
        st.lists(st.integers(min_value=0, max_value=600), max_size=4),  # split points
        st.none() | st.booleans(),  # compress
        st.booleans(),  # enforce an exact size limit
    ),
    max_size=8,
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)] or [b""]


@given(client_settings=settings, server_settings=settings, exchanges=messages)
def test_any_settings_negotiate_and_round_trip(
    client_settings: dict[str, Any],
    server_settings: dict[str, Any],
    exchanges: list[tuple[bool, bytes, list[int], bool | None, bool]],
) -> None:
    client = PerMessageDeflate(**client_settings)
    server = PerMessageDeflate(**server_settings)
    offer = client.offer()
    answer = server.accept_offer(offer)
    # Our offers never ask for an 8-bit window, so our server always agrees, and our
    # client accepts its answer (accept_response raises otherwise).
    assert answer is not None
    client.accept_response(answer)
    for client_sends, data, cuts, compress, limited in exchanges:
        sender, receiver = (client, server) if client_sends else (server, client)
        frames = encode_message(sender, split(data, cuts), compress=compress)
        assert all(rsv == 0 for rsv, _ in frames[1:])
        if compress is not None:
            assert frames[0][0] == (RSV1 if compress else 0)
        max_size = len(data) if limited else None
        assert decode_message(receiver, frames, max_size=max_size) == data


names = st.sampled_from(
    [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
        "x",
    ]
)
values = st.none() | st.sampled_from(["7", "8", "9", "12", "15", "16", "08", "", "a"])
raw_params = st.lists(st.tuples(names, values), max_size=5)


@given(offer=raw_params)
def test_server_answers_any_offer_by_the_rules(offer: ExtensionParams) -> None:
    answer = PerMessageDeflate().accept_offer(offer)
    if answer is None:
        return
    offered, answered = dict(offer), dict(answer)
    assert len(offered) == len(offer)
    # §7.1.2.2: client_max_window_bits only if offered, and not above the offered value.
    if "client_max_window_bits" in answered:
        assert "client_max_window_bits" in offered
        assert int(answered["client_max_window_bits"] or 0) <= int(
            offered["client_max_window_bits"] or 15
        )
    # §7.1.2.1: server_max_window_bits echoed, at most the requested value, never 8.
    if "server_max_window_bits" in offered:
        assert (
            9
            <= int(answered["server_max_window_bits"] or 0)
            <= int(offered["server_max_window_bits"] or 0)
        )
    # §7.1.1.1: server_no_context_takeover accepted by answering it.
    if "server_no_context_takeover" in offered:
        assert "server_no_context_takeover" in answered


@given(client_settings=settings, answer=raw_params)
def test_client_accepts_or_fails_cleanly_on_any_answer(
    client_settings: dict[str, Any], answer: ExtensionParams
) -> None:
    client = PerMessageDeflate(**client_settings)
    client.offer()
    try:
        client.accept_response(answer)
    except RemoteProtocolError:
        return
    server = PerMessageDeflate()
    server.accept_offer([])  # only to get an encoder; compress with the answered window
    frames = encode_message(client, [b"ping " * 100])
    assert decode_message(server, frames) == b"ping " * 100


# --- Interoperability with the websockets library's implementation -----------------------


def _ws_frames(frames: list[bytes]) -> list[Any]:
    from websockets.frames import Frame, Opcode

    return [
        Frame(Opcode.BINARY if i == 0 else Opcode.CONT, data, fin=i == len(frames) - 1)
        for i, data in enumerate(frames)
    ]


theirs = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": window_bits,
        "client_max_window_bits": window_bits,
    }
)


@given(ours=settings, their_settings=theirs, client_is_ours=st.booleans(), exchanges=messages)
def test_interoperates_with_websockets(
    ours: dict[str, Any],
    their_settings: dict[str, Any],
    client_is_ours: bool,
    exchanges: list[tuple[bool, bytes, list[int], bool | None, bool]],
) -> None:
    from websockets.extensions import permessage_deflate as wpd

    ext = PerMessageDeflate(**ours)
    if client_is_ours:
        factory = wpd.ServerPerMessageDeflateFactory(**their_settings)
        answer, peer = factory.process_request_params(ext.offer(), [])
        ext.accept_response(answer)
    else:
        if their_settings["client_max_window_bits"] is None:
            their_settings["client_max_window_bits"] = True
        client_factory = wpd.ClientPerMessageDeflateFactory(**their_settings)
        answer = ext.accept_offer(client_factory.get_request_params())
        assert answer is not None
        peer = client_factory.process_response_params(answer, [])
    for we_send, data, cuts, compress, _ in exchanges:
        if we_send:
            encoded = encode_message(ext, split(data, cuts), compress=compress)
            frames = _ws_frames([payload for _, payload in encoded])
            for frame, (rsv, _) in zip(frames, encoded, strict=True):
                frame.rsv1 = bool(rsv)
            assert b"".join(peer.decode(frame).data for frame in frames) == data
        else:
            sent = [peer.encode(frame) for frame in _ws_frames(split(data, cuts))]
            received = [(RSV1 if frame.rsv1 else 0, bytes(frame.data)) for frame in sent]
            assert decode_message(ext, received, max_size=len(data)) == data


@given(data=payloads, cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=6))
def test_decode_accepts_any_chunking_of_the_payload(data: bytes, cuts: list[int]) -> None:
    # The core may hand over a frame's payload in pieces as it arrives off the wire.
    client, server = negotiate()
    rsv, payload = server.encode(data, first=True, fin=True, compress=True)
    pieces = [(rsv, piece) for piece in split(payload, cuts)]
    assert decode_message(client, pieces, max_size=len(data)) == data
