"""permessage-deflate: what negotiation announces and what each side assumes agree (issue 15).

The reference peer here is zlib driven by the RFC, not by our code: from the offer and the
answer it works out the largest windows RFC 7692 §7.1.2 allows each side (15 bits where the
answer is silent) and whether each side must reset its context (§7.1.1), deflates with the
largest allowed window, and inflates what we send with the smallest window we may use.
"""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol.extensions import ExtensionParams, PerMessageDeflate

RSV1 = 0x40
TAIL = b"\x00\x00\xff\xff"
NAMES = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


class RfcPeer:
    """One side as the RFC permits it to behave: the largest window, context kept if allowed."""

    def __init__(self, send_bits: int, send_reset: bool, receive_bits: int, receive_reset: bool):
        self.send_bits = send_bits
        self.send_reset = send_reset
        self.receive_bits = receive_bits
        self.receive_reset = receive_reset
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    def compress(self, data: bytes) -> bytes:
        if self._compressor is None or self.send_reset:
            # zlib cannot deflate with 8 bits (1.2.9+ refuses, older silently uses 9): a
            # peer allowed only 8 bits uses 9 and must be read with 9 (see RfcPeer users).
            self._compressor = zlib.compressobj(9, zlib.DEFLATED, -max(self.send_bits, 9))
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4]

    def decompress(self, data: bytes) -> bytes:
        if self._decompressor is None or self.receive_reset:
            self._decompressor = zlib.decompressobj(-max(self.receive_bits, 9))
        return self._decompressor.decompress(data + TAIL)


def rfc_windows(
    offer: dict[str, str | None], answer: dict[str, str | None]
) -> tuple[int, bool, int, bool]:
    """(client window, client resets, server window, server resets) as RFC 7692 §7.1 reads."""
    client_value = answer.get("client_max_window_bits")
    # §7.1.2.2: absent from the answer, the client may use 15 bits (an offered value is a
    # hint only); §7.1.2.1: absent from the answer, so may the server.
    client_bits = int(client_value) if client_value else 15
    server_value = answer.get("server_max_window_bits")
    server_bits = int(server_value) if server_value else 15
    # §7.1.1.1/§7.1.1.2: a side resets when the answer says so (the client also when it
    # offered client_no_context_takeover; the server in no other case).
    client_resets = "client_no_context_takeover" in answer
    server_resets = "server_no_context_takeover" in answer
    del offer
    return client_bits, client_resets, server_bits, server_resets


def far_messages(bits: int, seed: int) -> list[bytes]:
    """1.5 KiB messages, then the same again from 2**bits + 2 KiB back, then a self-repeat."""
    rng = random.Random(seed)
    total = min(2**bits + 2048, 30000)
    data = rng.randbytes(total)
    run = [data[i : i + 1536] for i in range(0, total, 1536)]
    itself = rng.randbytes(min(2**bits + 512, 16000))
    return [*run, *run, itself + itself]


def ours_send(ext: PerMessageDeflate, message: bytes) -> bytes:
    rsv, payload = ext.encode(message, first=True, fin=True, compress=True)
    assert rsv == RSV1
    return payload


def ours_receive(ext: PerMessageDeflate, payload: bytes) -> bytes:
    return ext.decode(payload, rsv=RSV1, fin=True, max_size=None)


def check_server(offer: ExtensionParams, server: PerMessageDeflate) -> None:
    """Our server answers ``offer``; an RFC client uses all the answer allows; both ways."""
    answer = server.accept_offer(offer)
    if answer is None:
        return
    client_bits, client_resets, server_bits, server_resets = rfc_windows(dict(offer), dict(answer))
    if "client_max_window_bits" not in dict(offer):
        assert "client_max_window_bits" not in dict(answer)  # §7.1.2.2 MUST NOT
    client = RfcPeer(client_bits, client_resets, server_bits, server_resets)
    for message in far_messages(min(client_bits, server_bits), seed=client_bits):
        assert ours_receive(server, client.compress(message)) == message
        assert client.decompress(ours_send(server, message)) == message


def check_client(answer: ExtensionParams, client: PerMessageDeflate) -> None:
    """Our client reads ``answer``; an RFC server uses all the answer allows; both ways."""
    offer = client.offer()
    try:
        client.accept_response(answer)
    except Exception:
        return  # refused answers are tested elsewhere
    client_bits, client_resets, server_bits, server_resets = rfc_windows(dict(offer), dict(answer))
    if "client_no_context_takeover" in dict(offer):  # we offered it: we reset, as allowed
        client_resets = True
    peer = RfcPeer(server_bits, server_resets, client_bits, client_resets)
    for message in far_messages(min(client_bits, server_bits), seed=server_bits):
        assert ours_receive(client, peer.compress(message)) == message
        assert peer.decompress(ours_send(client, message)) == message


BITS = [None, *range(8, 16)]

# --- The negotiation matrix ---------------------------------------------------------------


@pytest.mark.parametrize("client_bits", BITS)
@pytest.mark.parametrize("server_bits", BITS)
@pytest.mark.parametrize("nct", [(), ("server_no_context_takeover", "client_no_context_takeover")])
def test_server_matrix(client_bits: int | None, server_bits: int | None, nct: tuple[str]) -> None:
    offer: ExtensionParams = [(name, None) for name in nct]
    if server_bits is not None:
        offer.append(("server_max_window_bits", str(server_bits)))
    offer.append(("client_max_window_bits", None if client_bits is None else str(client_bits)))
    check_server(offer, PerMessageDeflate())
    check_server(offer, PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15))


@pytest.mark.parametrize("bits", range(8, 16))
def test_server_answers_every_offered_client_window(bits: int) -> None:
    answer = PerMessageDeflate().accept_offer([("client_max_window_bits", str(bits))])
    assert answer == [("client_max_window_bits", str(min(bits, 12)))]


@pytest.mark.parametrize("client_bits", [b for b in BITS if b != 8])
@pytest.mark.parametrize("server_bits", BITS)
@pytest.mark.parametrize("nct", [(), ("server_no_context_takeover", "client_no_context_takeover")])
def test_client_matrix(client_bits: int | None, server_bits: int | None, nct: tuple[str]) -> None:
    answer: ExtensionParams = [(name, None) for name in nct]
    if server_bits is not None:
        answer.append(("server_max_window_bits", str(server_bits)))
    if client_bits is not None:
        answer.append(("client_max_window_bits", str(client_bits)))
    check_client(answer, PerMessageDeflate())


# --- Any accepted parameter set round-trips -------------------------------------------------

params = st.lists(
    st.sampled_from(NAMES).flatmap(
        lambda name: st.tuples(
            st.just(name),
            st.none()
            if name.endswith("takeover")
            else st.sampled_from([None, *map(str, range(8, 16))]),
        )
    ),
    max_size=4,
    unique_by=lambda pair: pair[0],
)
windows = st.sampled_from([None, *range(9, 16)])


@given(offer=params, server_bits=windows, client_bits=windows, nct=st.booleans())
def test_any_accepted_offer_round_trips(
    offer: ExtensionParams, server_bits: int | None, client_bits: int | None, nct: bool
) -> None:
    check_server(
        offer,
        PerMessageDeflate(
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
            client_no_context_takeover=nct,
        ),
    )


@given(answer=params, server_bits=windows, client_bits=windows, nct=st.booleans())
def test_any_accepted_answer_round_trips(
    answer: ExtensionParams, server_bits: int | None, client_bits: int | None, nct: bool
) -> None:
    check_client(
        answer,
        PerMessageDeflate(
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
            client_no_context_takeover=nct,
        ),
    )
