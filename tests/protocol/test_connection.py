"""The connection state machine, scenario by scenario, grouped by RFC 6455 section."""

from __future__ import annotations

import pytest

from trio_ws.protocol import (
    BytesMessage,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    Limits,
    LocalProtocolError,
    Ping,
    Pong,
    Request,
    TextMessage,
    _connection,
)
from trio_ws.protocol._frames import serialize_frame

from .pair import ConnectionPair

KEY = bytes.fromhex("37fa213d")


@pytest.fixture
def pair() -> ConnectionPair:
    pair = ConnectionPair()
    pair.handshake()
    return pair


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """A raw frame as a client (masked) or a server (unmasked) would send it."""
    return serialize_frame(opcode, payload, fin=fin, rsv=rsv, mask_key=KEY if masked else None)


def fail_code(conn, data: bytes) -> int | None:
    """Feed raw bytes; return the code of the resulting failure (or None)."""
    conn.receive_data(data)
    failures = [e for e in conn.events() if isinstance(e, ConnectionFailed)]
    assert len(failures) <= 1
    return failures[0].code if failures else None


def close_sent(pair: ConnectionPair, conn) -> CloseConnection:
    """Decode the close frame ``conn`` queued by feeding it to the peer."""
    events = pair.pump(conn)
    assert isinstance(events[-1], CloseConnection), events
    return events[-1]


class TestSection5_7Examples:
    """5.7. Examples: exact bytes."""

    def test_unmasked_hello_from_server(self, pair: ConnectionPair) -> None:
        pair.server.send(TextMessage(data="Hello"))
        assert pair.server.data_to_send() == bytes.fromhex("810548656c6c6f")

    def test_masked_hello_from_client(self, pair: ConnectionPair, monkeypatch) -> None:
        monkeypatch.setattr(_connection, "new_mask_key", lambda: KEY)
        pair.client.send(TextMessage(data="Hello"))
        assert pair.client.data_to_send() == bytes.fromhex("818537fa213d7f9f4d5158")

    def test_fragmented_unmasked_text(self, pair: ConnectionPair) -> None:
        pair.server.send(TextMessage(data="Hel", message_finished=False))
        pair.server.send(TextMessage(data="lo"))
        assert pair.server.data_to_send() == bytes.fromhex("010348656c") + bytes.fromhex(
            "80026c6f"
        )

    def test_ping_and_masked_pong(self, pair: ConnectionPair, monkeypatch) -> None:
        pair.server.send(Ping(payload=b"Hello"))
        wire = pair.server.data_to_send()
        assert wire == bytes.fromhex("890548656c6c6f")
        monkeypatch.setattr(_connection, "new_mask_key", lambda: KEY)
        pair.client.receive_data(wire)
        assert pair.client.events() == [Ping(payload=b"Hello")]
        assert pair.client.data_to_send() == bytes.fromhex("8a8537fa213d7f9f4d5158")

    @pytest.mark.parametrize(
        ("size", "header"),
        [
            (0, "8200"),
            (125, "827d"),
            (126, "827e007e"),
            (256, "827e0100"),
            (65535, "827effff"),
            (65536, "827f0000000000010000"),
        ],
    )
    def test_length_encodings(self, pair: ConnectionPair, size: int, header: str) -> None:
        pair.server.send(BytesMessage(data=bytes(size)))
        wire = pair.server.data_to_send()
        assert wire[: len(header) // 2] == bytes.fromhex(header)
        assert len(wire) == len(header) // 2 + size
        pair.client.receive_data(wire)
        assert pair.client.events() == [BytesMessage(data=bytes(size))]

    def test_non_minimal_length_is_accepted(self, pair: ConnectionPair) -> None:
        """RFC 6455 §5.2 asks senders for the minimal encoding; receivers need not check."""
        wire = bytes.fromhex("827f0000000000000003") + b"abc"
        pair.client.receive_data(wire)
        assert pair.client.events() == [BytesMessage(data=b"abc")]


class TestSection5_1Masking:
    """5.1. Overview: clients mask, servers don't."""

    def test_client_frames_use_fresh_keys(self, pair: ConnectionPair) -> None:
        keys = set()
        for _ in range(20):
            pair.client.send(BytesMessage(data=b"x"))
            keys.add(pair.client.data_to_send()[2:6])
        assert len(keys) > 15

    def test_server_fails_on_unmasked_frame(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, b"hi", masked=False)) == 1002
        assert close_sent(pair, pair.server).code == 1002
        assert pair.server.state is ConnectionState.CLOSED
        assert pair.server.should_close_transport()

    def test_client_fails_on_masked_frame(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.client, frame(0x1, b"hi", masked=True)) == 1002
        assert str(pair.client.failure) == "masked frame from the server"


class TestSection5_2BaseFraming:
    """5.2. Base Framing Protocol: RSV bits, opcodes, lengths."""

    @pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
    def test_rsv_without_extension(self, pair: ConnectionPair, rsv: int) -> None:
        assert fail_code(pair.server, frame(0x2, b"x", rsv=rsv)) == 1002

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    def test_reserved_opcodes(self, pair: ConnectionPair, opcode: int) -> None:
        assert fail_code(pair.server, frame(opcode, b"")) == 1002
        assert str(pair.server.failure) == f"reserved opcode {opcode:#x}"

    def test_64_bit_length_top_bit(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.client, bytes.fromhex("827f8000000000000000")) == 1002

    def test_huge_declared_length_fails_before_payload(self, pair: ConnectionPair) -> None:
        """A 2 GiB frame is refused from its header alone."""
        assert fail_code(pair.client, bytes.fromhex("827f0000000080000000")) == 1009


class TestSection5_4Fragmentation:
    """5.4. Fragmentation."""

    def test_continuation_without_start(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x0, b"x")) == 1002

    def test_new_message_inside_fragmented_one(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, b"a", fin=False) + frame(0x1, b"b")) == 1002

    def test_many_tiny_fragments(self, pair: ConnectionPair) -> None:
        wire = frame(0x1, b"", fin=False)
        wire += b"".join(frame(0x0, b"a", fin=False) for _ in range(500)) + frame(0x0, b"!")
        pair.server.receive_data(wire)
        events = pair.server.events()
        assert "".join(e.data for e in events) == "a" * 500 + "!"
        assert events[-1].message_finished

    def test_pieces_arrive_before_the_frame_ends(self, pair: ConnectionPair) -> None:
        wire = frame(0x2, bytes(range(200)))
        pair.server.receive_data(wire[:50])
        (first,) = pair.server.events()
        assert first == BytesMessage(data=bytes(range(200))[: 50 - 8], message_finished=False)

    def test_cannot_interleave_outgoing_types(self, pair: ConnectionPair) -> None:
        pair.client.send(TextMessage(data="a", message_finished=False))
        with pytest.raises(
            LocalProtocolError, match=r"^cannot send BytesMessage inside an unfinished message"
        ):
            pair.client.send(BytesMessage(data=b"b"))


class TestSection5_5ControlFrames:
    """5.5. Control Frames."""

    def test_control_frame_too_long(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x9, bytes(126))) == 1002

    def test_fragmented_control_frame(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x9, b"x", fin=False)) == 1002

    def test_rsv_on_control_frame(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x9, b"x", rsv=0x40)) == 1002

    def test_ping_125_is_answered(self, pair: ConnectionPair) -> None:
        pair.server.receive_data(frame(0x9, bytes(125)))
        assert pair.server.events() == [Ping(payload=bytes(125))]
        assert pair.pump(pair.server) == [Pong(payload=bytes(125))]

    def test_unsolicited_pong_is_reported_not_answered(self, pair: ConnectionPair) -> None:
        pair.server.receive_data(frame(0xA, b"beat"))
        assert pair.server.events() == [Pong(payload=b"beat")]
        assert pair.server.data_to_send() == b""

    def test_event_validation(self) -> None:
        with pytest.raises(
            LocalProtocolError,
            match=r"^ping payload is 126 bytes; control frames carry at most 125",
        ):
            Ping(payload=bytes(126))
        with pytest.raises(LocalProtocolError, match=r"^close code 1005 may not be sent"):
            CloseConnection(code=1005)
        with pytest.raises(LocalProtocolError, match=r"^close reason is 124 bytes of UTF-8"):
            CloseConnection(code=1000, reason="x" * 124)
        with pytest.raises(LocalProtocolError, match=r"^a close reason needs a close code$"):
            CloseConnection(code=None, reason="x")


class TestSection5_5_1Close:
    """5.5.1. Close, and 7. Closing the Connection."""

    @pytest.mark.parametrize(
        "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    )
    def test_invalid_close_codes(self, pair: ConnectionPair, code: int) -> None:
        assert fail_code(pair.server, frame(0x8, code.to_bytes(2, "big"))) == 1002

    @pytest.mark.parametrize(
        "code",
        [
            1000,
            1001,
            1002,
            1003,
            1007,
            1008,
            1009,
            1010,
            1011,
            1012,
            1013,
            1014,
            3000,
            3999,
            4000,
            4999,
        ],
    )
    def test_valid_close_codes_are_echoed(self, pair: ConnectionPair, code: int) -> None:
        pair.server.receive_data(frame(0x8, code.to_bytes(2, "big") + b"bye"))
        assert pair.server.events() == [CloseConnection(code=code, reason="bye")]
        assert close_sent(pair, pair.server) == CloseConnection(code=code, reason="bye")

    def test_one_byte_payload(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x8, b"\x03")) == 1002

    def test_invalid_utf8_reason(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x8, b"\x03\xe8\xff\xfe")) == 1007

    def test_empty_close_is_code_none(self, pair: ConnectionPair) -> None:
        pair.server.receive_data(frame(0x8))
        assert pair.server.events() == [CloseConnection(code=None)]
        assert pair.server.data_to_send() == bytes.fromhex("8800")

    def test_data_after_close_is_ignored(self, pair: ConnectionPair) -> None:
        pair.server.receive_data(frame(0x8, b"\x03\xe8") + frame(0x1, b"late") + b"garbage")
        assert pair.server.events() == [CloseConnection(code=1000)]
        pair.server.receive_data(b"more garbage")
        assert pair.server.events() == []

    def test_messages_still_arrive_while_closing(self, pair: ConnectionPair) -> None:
        pair.server.send(CloseConnection(code=1001))
        pair.server.receive_data(frame(0x1, b"in flight") + frame(0x8, b"\x03\xe9"))
        assert pair.server.events() == [TextMessage(data="in flight"), CloseConnection(code=1001)]
        assert pair.server.state is ConnectionState.CLOSED

    def test_no_sending_after_close(self, pair: ConnectionPair) -> None:
        pair.client.send(CloseConnection())
        with pytest.raises(
            LocalProtocolError, match=r"^cannot send TextMessage in state CLOSING$"
        ):
            pair.client.send(TextMessage(data="x"))

    def test_failure_while_closing_sends_no_second_close(self, pair: ConnectionPair) -> None:
        pair.server.send(CloseConnection())
        pair.server.data_to_send()
        assert fail_code(pair.server, frame(0x3)) == 1002
        assert pair.server.data_to_send() == b""

    def test_eof_without_close_is_1006(self, pair: ConnectionPair) -> None:
        pair.client.receive_eof()
        (event,) = pair.client.events()
        assert isinstance(event, ConnectionFailed)
        assert event.code == 1006
        assert pair.client.data_to_send() == b""
        assert pair.client.should_close_transport()

    def test_eof_mid_frame(self, pair: ConnectionPair) -> None:
        pair.client.receive_data(b"\x82\x05ab")
        pair.client.events()
        pair.client.receive_eof()
        assert str(pair.client.failure) == "connection closed in the middle of a frame"

    def test_receive_after_eof_is_misuse(self, pair: ConnectionPair) -> None:
        pair.client.receive_eof()
        with pytest.raises(
            LocalProtocolError, match=r"^receive_data\(\) called after receive_eof\(\)$"
        ):
            pair.client.receive_data(b"x")


class TestSection8_1Utf8:
    """8.1. Handling Errors in UTF-8-Encoded Data: fail fast."""

    def test_invalid_single_frame(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, b"\xce\xba\xff")) == 1007

    def test_fails_at_the_bad_fragment_not_the_end(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, "κόσμε".encode(), fin=False)) is None
        assert fail_code(pair.server, frame(0x0, b"\xed\xa0\x80", fin=False)) == 1007

    def test_fails_inside_a_frame_before_it_ends(self, pair: ConnectionPair) -> None:
        wire = frame(0x1, b"ok" + b"\xf4\x90\x80\x80" + bytes(1000))
        assert fail_code(pair.server, wire[:12]) == 1007

    def test_surrogate_prefix_fails_at_second_byte(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, b"a\xed\xa0", fin=False)) == 1007

    def test_code_point_split_across_fragments(self, pair: ConnectionPair) -> None:
        data = "🎉".encode()
        pair.server.receive_data(
            frame(0x1, data[:1], fin=False)
            + frame(0x0, data[1:3], fin=False)
            + frame(0x0, data[3:])
        )
        assert "".join(e.data for e in pair.server.events()) == "🎉"

    def test_truncated_sequence_at_message_end(self, pair: ConnectionPair) -> None:
        assert fail_code(pair.server, frame(0x1, b"\xe2\x82")) == 1007

    def test_lone_surrogate_cannot_be_sent(self, pair: ConnectionPair) -> None:
        with pytest.raises(LocalProtocolError, match=r"^text contains a lone surrogate$"):
            pair.client.send(TextMessage(data="\ud800"))


class TestLimits:
    """Size limits, enforced before the payload is read."""

    def make(self, **limits) -> ConnectionPair:
        pair = ConnectionPair(server_limits=Limits(**limits))
        pair.handshake()
        return pair

    def test_message_too_big_from_header(self) -> None:
        pair = self.make(max_message_size=100)
        assert fail_code(pair.server, frame(0x2, bytes(101))[:14]) == 1009
        assert close_sent(pair, pair.server).code == 1009

    def test_message_too_big_across_fragments(self) -> None:
        pair = self.make(max_message_size=100)
        assert fail_code(pair.server, frame(0x2, bytes(60), fin=False)) is None
        assert fail_code(pair.server, frame(0x0, bytes(41))) == 1009

    def test_exact_limit_passes(self) -> None:
        pair = self.make(max_message_size=100)
        assert (
            fail_code(pair.server, frame(0x2, bytes(60), fin=False) + frame(0x0, bytes(40)))
            is None
        )

    def test_max_fragments(self) -> None:
        pair = self.make(max_fragments=3)
        wire = (
            frame(0x2, b"a", fin=False) + frame(0x0, b"b", fin=False) + frame(0x0, b"c", fin=False)
        )
        assert fail_code(pair.server, wire + frame(0x0, b"d")) == 1009

    def test_max_frame_size(self) -> None:
        pair = self.make(max_frame_size=10)
        assert fail_code(pair.server, frame(0x2, bytes(11))) == 1009

    def test_no_limit(self) -> None:
        pair = self.make(max_message_size=None)
        pair.server.receive_data(frame(0x2, bytes(3 * 2**20)))
        assert sum(len(e.data) for e in pair.server.events()) == 3 * 2**20


class TestStates:
    """Sending in the wrong state or role is the caller's error."""

    def test_message_before_handshake(self) -> None:
        pair = ConnectionPair()
        with pytest.raises(
            LocalProtocolError, match=r"^cannot send TextMessage in state CONNECTING$"
        ):
            pair.client.send(TextMessage(data="x"))

    def test_server_cannot_send_request(self) -> None:
        pair = ConnectionPair()
        with pytest.raises(LocalProtocolError, match=r"^only a client sends a Request$"):
            pair.server.send(Request(host="x"))

    def test_after_failure_nothing_is_sent(self, pair: ConnectionPair) -> None:
        pair.server.receive_data(frame(0x3))
        with pytest.raises(LocalProtocolError, match=r"^cannot send Ping in state CLOSED$"):
            pair.server.send(Ping())
