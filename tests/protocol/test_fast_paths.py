"""The performance fast paths of the core give the same bytes and events as the plain ones."""

from __future__ import annotations

import os

import pytest

from trio_ws.protocol import AcceptConnection, BytesMessage, Connection, Request, Role
from trio_ws.protocol._connection import _SPLIT_FRAME
from trio_ws.protocol._frames import serialize_frame
from trio_ws.protocol._mask import mask


def open_pair() -> tuple[Connection, Connection]:
    client, server = Connection(Role.CLIENT), Connection(Role.SERVER)
    client.send(Request(host="example.com", target="/"))
    server.receive_data(client.data_to_send())
    server.events()
    server.send(AcceptConnection())
    client.receive_data(server.data_to_send())
    client.events()
    return client, server


def test_header_only_serialization_matches_the_whole_frame() -> None:
    payload = os.urandom(70000)
    key = b"\x01\x02\x03\x04"
    whole = serialize_frame(2, payload, mask_key=key)
    header = serialize_frame(2, b"", mask_key=key, length=len(payload))
    assert header + mask(payload, key) == whole
    assert serialize_frame(1, b"", length=5) + b"hello" == serialize_frame(1, b"hello")


@pytest.mark.parametrize("size", [65536, _SPLIT_FRAME - 1, _SPLIT_FRAME, 1 << 20])
def test_large_frames_are_queued_apart_and_join_to_the_same_bytes(size: int) -> None:
    _, server = open_pair()
    payload = os.urandom(size)
    server.send(BytesMessage(data=bytearray(payload)))
    chunks = server.data_to_send_chunks()
    assert len(chunks) == (2 if size >= _SPLIT_FRAME else 1)
    if size >= _SPLIT_FRAME:
        assert type(chunks[1]) is bytes
    assert b"".join(chunks) == serialize_frame(2, payload)
    server.send(BytesMessage(data=payload))
    assert server.data_to_send() == serialize_frame(2, payload)
    assert server.data_to_send_chunks() == []


def test_large_masked_frame_from_a_client_is_read_back_intact() -> None:
    client, server = open_pair()
    payload = os.urandom(1 << 19)
    client.send(BytesMessage(data=memoryview(payload)))
    chunks = client.data_to_send_chunks()
    assert len(chunks) == 2
    data = b"".join(chunks)
    # Odd piece sizes: the masking key's phase moves inside the payload.
    for i in range(0, len(data), 4099):
        server.receive_data(data[i : i + 4099])
    assert b"".join(e.data for e in server.events()) == payload  # type: ignore[attr-defined]


def test_a_read_made_only_of_payload_is_passed_on_without_a_copy() -> None:
    client, server = open_pair()
    payload = os.urandom(100000)
    server.send(BytesMessage(data=payload))
    data = server.data_to_send()
    head, rest = data[:10], data[10:]
    client.receive_data(head)
    assert client.events() == []
    first, second = rest[:50000], rest[50000:]
    client.receive_data(first)
    (event,) = client.events()
    assert event.data is first  # type: ignore[attr-defined]
    client.receive_data(second)
    (event2,) = client.events()
    assert event.data + event2.data == payload  # type: ignore[attr-defined]
    assert event2.message_finished  # type: ignore[attr-defined]
