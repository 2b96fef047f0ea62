"""The permessage-deflate extension (RFC 7692) on the standard library's :mod:`zlib`.

Theory of operation
-------------------

One :class:`PerMessageDeflate` instance serves one connection in one role. Negotiation fixes
four facts per connection, two per direction: the window we compress with and the window we
inflate with, and whether each side resets its LZ77 context after every message ("no context
takeover"). The client learns them from the server's answer to its offer
(:meth:`~PerMessageDeflate.offer`, :meth:`~PerMessageDeflate.accept_response`); the server
decides them while answering an offer (:meth:`~PerMessageDeflate.accept_offer`).

Data path, per message:

* Sending: the first frame decides whether the message is compressed (the caller forces it, or
  the threshold decides), and only that frame carries RSV1. Every frame is deflated and flushed
  with ``Z_SYNC_FLUSH``, so a streamed fragment goes out at once; the final frame drops the
  ``00 00 ff ff`` that the flush leaves at the end (§7.2.1).
* Receiving: the RSV1 bit of the message's first frame says whether it is compressed. Each
  frame is inflated as it arrives, and ``00 00 ff ff`` is fed after the final one (§7.2.2).
  Inflation is capped by zlib's ``max_length`` at the caller's remaining budget plus one byte,
  so a decompression bomb fails with :class:`MessageTooBig` (1009) having produced at most that
  many bytes.

Invariants: zlib objects are created on first use and dropped after every message of a
direction with no context takeover, so an idle connection holds no zlib memory unless context
takeover keeps a window alive. We never compress with an 8-bit window: zlib cannot (old
versions silently use 9, 1.2.9 and later refuse a raw 8-bit deflate window), so we neither
offer nor accept to do it; we inflate a peer's 8-bit stream with a 9-bit window, which reads
it fine.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Final, final

from .._errors import LocalProtocolError, MessageTooBig, RemoteProtocolError
from ._base import Extension, ExtensionParams

if TYPE_CHECKING:
    from zlib import _Compress, _Decompress

__all__ = ["PerMessageDeflate"]

#: What a ``Z_SYNC_FLUSH`` ends with, removed by the sender and restored by the receiver.
_TAIL: Final = b"\x00\x00\xff\xff"
#: RSV1, the bit marking the first frame of a compressed message (RFC 7692 §6).
_RSV1: Final = 0x40

#: Defaults chosen from ``bench/deflate_memory.py`` and ``bench/deflate_throughput.py`` (see
#: docs/explanation/compression.rst): a 12-bit window with memLevel 5 reserves 49 KiB per
#: connection (compressor plus decompressor) against 301 KiB for zlib's 15/8, and costs little
#: ratio: small JSON events shrink to 22.3 % against 20.0 %, 16 KiB JSON messages to 14.5 %
#: against 12.8 %, and encode plus decode runs faster (70 MB/s against 49).
DEFAULT_WINDOW_BITS: Final = 12
#: zlib's memLevel: 5 compresses as well as 8 up to 16 KiB messages with a quarter of the hash
#: memory (38 KiB against 150 KiB for the compressor at window 12); 1 is slower and worse.
DEFAULT_MEM_LEVEL: Final = 5
#: Level 3: on 16 KiB JSON, compressing runs about 1.6 times as fast as zlib's default level 6
#: (183 MB/s against 117 MB/s here) for output about a tenth larger (17.4 % of the input
#: against 15.7 %). Levels 1-3 use zlib's fast strategy; from 4 on the lazy matcher costs CPU
#: that a real-time protocol rarely gets back in bandwidth. Pass ``compress_level=6`` (or 9)
#: for links where bytes cost more than CPU.
DEFAULT_COMPRESS_LEVEL: Final = 3
#: Messages whose first frame is shorter than this go out uncompressed. Compressing them
#: would save at most ~120 bytes each and never a TCP segment, for 2-3 µs of CPU apiece; not
#: doing so means a connection that only sends short messages (acks, presence, small ticks)
#: never allocates a compressor (38 KiB). Apps that send floods of small, repetitive messages
#: gain from ``threshold=0``: with context takeover they shrink to a fraction.
DEFAULT_THRESHOLD: Final = 128

_NAMES: Final = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)
# RFC 7692 §7.1.2.1/§7.1.2.2: a decimal integer from 8 to 15 without leading zeroes.
_BITS: Final = {str(bits): bits for bits in range(8, 16)}


class _Invalid(Exception):
    """Parameters that RFC 7692 §7.1 does not allow; the server declines, the client fails."""


def _check(params: ExtensionParams) -> dict[str, str | None]:
    """Validate the names and value shapes common to offers and responses."""
    seen: dict[str, str | None] = {}
    for name, value in params:
        # RFC 7692 §7: an offer or a response with an unknown, invalid or repeated parameter
        # MUST be declined (server) or MUST fail the connection (client).
        if name not in _NAMES:
            raise _Invalid(f"unknown parameter {name!r}")
        if name in seen:
            raise _Invalid(f"duplicated parameter {name!r}")
        if name.endswith("_no_context_takeover"):
            # RFC 7692 §7.1.1.1/§7.1.1.2: these parameters have no value.
            if value is not None:
                raise _Invalid(f"{name} takes no value, got {value!r}")
        elif value is not None and value not in _BITS:
            raise _Invalid(f"{name}={value!r} is not an integer from 8 to 15")
        seen[name] = value
    # RFC 7692 §7.1.2.1: server_max_window_bits always has a value.
    if "server_max_window_bits" in seen and seen["server_max_window_bits"] is None:
        raise _Invalid("server_max_window_bits needs a value")
    return seen


def _bits(value: str | None, default: int) -> int:
    return default if value is None else _BITS[value]


def _window_bits(name: str, value: int | None) -> int | None:
    """Validate a window size given to the constructor."""
    if value is not None and not 9 <= value <= 15:
        raise ValueError(f"{name} must be from 9 to 15 (zlib cannot deflate with 8), got {value}")
    return value


@final
class PerMessageDeflate(Extension):
    """The permessage-deflate extension (RFC 7692), for one connection in one role.

    A client offers it with :meth:`offer` and checks the answer with
    :meth:`accept_response`; a server answers offers with :meth:`accept_offer`. The window
    parameters mean different things in each role; ``None`` picks the role's default.

    Args:
        server_no_context_takeover: Client: ask the server to reset its compression context
            after every message. Server: do so even when not asked.
        client_no_context_takeover: Client: announce that we reset our compression context
            after every message. Server: require the client to.
        server_max_window_bits: Client: ask the server to compress with a window of at most
            ``2**bits`` bytes (``None``: leave it to the server). Server: the largest window
            we compress with (``None``: 12, which keeps memory small); a client asking for less
            gets less.
        client_max_window_bits: Client: offered with this value, the largest window we will
            compress with (``None``: offered without a value, the server chooses, up to 15).
            Server: the largest window a client that supports the parameter may compress with
            (``None``: 12); a client that does not support it is accepted anyway and inflated
            with a 15-bit window (32 KiB).
        compress_level: zlib level, 0 (store) to 9 (smallest), or -1 for zlib's default (6).
        mem_level: zlib memLevel, 1 to 9: the size of the compressor's hash tables. The
            default, 5, compresses as well as zlib's 8 with a quarter of the memory.
        threshold: Messages whose first frame is shorter than this many bytes (default 128)
            are sent uncompressed unless the sender forces compression.

    Raises:
        ValueError: a window size outside 9 to 15, or another setting out of range.
    """

    name = "permessage-deflate"
    rsv_mask = _RSV1

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | None = None,
        compress_level: int = DEFAULT_COMPRESS_LEVEL,
        mem_level: int = DEFAULT_MEM_LEVEL,
        threshold: int = DEFAULT_THRESHOLD,
    ) -> None:
        if not -1 <= compress_level <= 9:
            raise ValueError(f"compress_level must be from -1 to 9, got {compress_level}")
        if not 1 <= mem_level <= 9:
            raise ValueError(f"mem_level must be from 1 to 9, got {mem_level}")
        if threshold < 0:
            raise ValueError(f"threshold must not be negative, got {threshold}")
        self._server_no_context_takeover = server_no_context_takeover
        self._client_no_context_takeover = client_no_context_takeover
        self._server_max_window_bits = _window_bits(
            "server_max_window_bits", server_max_window_bits
        )
        self._client_max_window_bits = _window_bits(
            "client_max_window_bits", client_max_window_bits
        )
        self._compress_level = compress_level
        self._mem_level = mem_level
        self._threshold = threshold

        self._offered = False
        self._negotiated = False
        # What negotiation decided, per direction ("local" is what we send).
        self._local_bits = 15
        self._remote_bits = 15
        self._local_no_context_takeover = False
        self._remote_no_context_takeover = False
        # zlib state, created on first use.
        self._compressor: _Compress | None = None
        self._decompressor: _Decompress | None = None
        self._compressing = False

    def __repr__(self) -> str:
        if not self._negotiated:
            return f"<{type(self).__name__} (not negotiated)>"
        return (
            f"<{type(self).__name__} send: window_bits={self._local_bits}, "
            f"no_context_takeover={self._local_no_context_takeover}; "
            f"receive: window_bits={self._remote_bits}, "
            f"no_context_takeover={self._remote_no_context_takeover}>"
        )

    @property
    def negotiated(self) -> bool:
        """Whether :meth:`accept_offer` or :meth:`accept_response` has configured us."""
        return self._negotiated

    # --- Opening handshake: client ---------------------------------------------------------

    def offer(self) -> ExtensionParams:
        """Client side: return the parameters of our offer (RFC 7692 §7.1).

        Returns:
            The offer's parameters. ``client_max_window_bits`` is always present, with no
            value unless the constructor set one, so the server may choose our window.

        Raises:
            LocalProtocolError: negotiation has already happened on this instance.
        """
        if self._negotiated:
            raise LocalProtocolError("permessage-deflate is already negotiated")
        params: ExtensionParams = []
        if self._server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self._client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self._server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self._server_max_window_bits)))
        client_bits = self._client_max_window_bits
        params.append(
            ("client_max_window_bits", None if client_bits is None else str(client_bits))
        )
        self._offered = True
        return params

    def accept_response(self, params: ExtensionParams) -> None:
        """Client side: check the server's answer to our offer and configure ourselves.

        Args:
            params: The parameters of the server's ``permessage-deflate`` answer.

        Raises:
            RemoteProtocolError: the answer breaks RFC 7692 §7.1 or does not match our offer
                (RFC 7692 §7: the client MUST then fail the connection).
            LocalProtocolError: :meth:`offer` was not called, or negotiation already happened.
        """
        if not self._offered or self._negotiated:
            raise LocalProtocolError("accept_response() must follow offer(), once")
        try:
            answer = _check(params)
        except _Invalid as exc:
            raise RemoteProtocolError(f"invalid permessage-deflate response: {exc}") from None

        def fail(reason: str) -> RemoteProtocolError:
            return RemoteProtocolError(f"unacceptable permessage-deflate response: {reason}")

        # RFC 7692 §7.1.1.1: the server accepts server_no_context_takeover by including it.
        if self._server_no_context_takeover and "server_no_context_takeover" not in answer:
            raise fail("server_no_context_takeover was requested but not accepted")
        # RFC 7692 §7.1.2.1: the server accepts our server_max_window_bits by answering the
        # same or a smaller value; with a larger one the client MUST fail the connection.
        server_bits = answer.get("server_max_window_bits")
        requested = self._server_max_window_bits
        if requested is not None:
            if server_bits is None:
                raise fail(f"server_max_window_bits={requested} was requested but not accepted")
            if _BITS[server_bits] > requested:
                raise fail(f"server_max_window_bits={server_bits} is larger than {requested}")
        # RFC 7692 §7.1.2.2: the answer's client_max_window_bits has a value, not larger than
        # the one we offered. (We always offer the parameter, so its presence is fine.)
        local_bits = self._client_max_window_bits or 15
        if "client_max_window_bits" in answer:
            value = answer["client_max_window_bits"]
            if value is None:
                raise fail("client_max_window_bits needs a value")
            if _BITS[value] > local_bits:
                raise fail(f"client_max_window_bits={value} is larger than {local_bits}")
            if value == "8":
                raise fail("client_max_window_bits=8 is not supported (zlib cannot deflate it)")
            local_bits = _BITS[value]

        self._local_bits = local_bits
        self._remote_bits = max(_bits(server_bits, 15), 9)
        self._local_no_context_takeover = (
            self._client_no_context_takeover or "client_no_context_takeover" in answer
        )
        self._remote_no_context_takeover = "server_no_context_takeover" in answer
        self._negotiated = True

    # --- Opening handshake: server -------------------------------------------------------

    def accept_offer(self, params: ExtensionParams) -> ExtensionParams | None:
        """Server side: answer one ``permessage-deflate`` offer of the client (RFC 7692 §7.1).

        Args:
            params: The parameters of one offer.

        Returns:
            The parameters of our answer, which also configures this instance; or ``None`` to
            decline an invalid offer (unknown, duplicated or out-of-range parameter,
            RFC 7692 §7.1: "MUST decline") or one asking us to deflate with an 8-bit window.

        Raises:
            LocalProtocolError: this instance has already negotiated.
        """
        if self._negotiated or self._offered:
            raise LocalProtocolError("permessage-deflate is already negotiated")
        try:
            offer = _check(params)
        except _Invalid:
            return None
        # RFC 7692 §7.1.2.1: we may answer with the requested window or a smaller one.
        requested = offer.get("server_max_window_bits")
        if requested == "8":
            return None
        local_bits = min(self._server_max_window_bits or DEFAULT_WINDOW_BITS, _bits(requested, 15))
        # RFC 7692 §7.1.1.1: accepting an offer with server_no_context_takeover means doing it.
        local_no_context_takeover = (
            self._server_no_context_takeover or "server_no_context_takeover" in offer
        )
        remote_no_context_takeover = (
            self._client_no_context_takeover or "client_no_context_takeover" in offer
        )
        # RFC 7692 §7.1.2.2: without client_max_window_bits in the offer we MUST NOT send it,
        # and the client may use a 15-bit window. With it, we answer it, with the offered value
        # or a smaller one: an answer without it would tell the client it may deflate with 15
        # bits whatever it offered (the offered value is only a hint), so leaving it out and
        # inflating with the offered window fails on the first reference further back.
        # Answering costs less memory than inflating with 15 bits (2**N bytes of window).
        offered_client_bits = _bits(offer.get("client_max_window_bits"), 15)
        remote_bits = offered_client_bits
        if "client_max_window_bits" in offer:
            remote_bits = min(self._client_max_window_bits or DEFAULT_WINDOW_BITS, remote_bits)

        # The answer says no more than it must. In particular, server_max_window_bits goes out
        # only when requested: §7.1.2.1 allows it unasked, but some clients fail the handshake
        # on it, and a window is a maximum, so we can compress with a smaller one unannounced.
        answer: ExtensionParams = []
        if local_no_context_takeover:
            answer.append(("server_no_context_takeover", None))
        if remote_no_context_takeover:
            answer.append(("client_no_context_takeover", None))
        if requested is not None:
            answer.append(("server_max_window_bits", str(local_bits)))
        if "client_max_window_bits" in offer:
            # An offered 8 is answered 8 and inflated with 9 bits below (zlib reads an 8-bit
            # stream with a 9-bit window); the client chose it, so it can deflate with it.
            answer.append(("client_max_window_bits", str(remote_bits)))

        self._local_bits = local_bits
        self._remote_bits = max(remote_bits, 9)
        self._local_no_context_takeover = local_no_context_takeover
        self._remote_no_context_takeover = remote_no_context_takeover
        self._negotiated = True
        return answer

    # --- Data frames ------------------------------------------------------------------------

    def decode(self, data: bytes, *, rsv: int, fin: bool, max_size: int | None) -> bytes:
        """Inflate the payload of one incoming data frame, if its message is compressed.

        Args:
            data: The frame's payload, unmasked.
            rsv: The RSV bits of the message's first frame; without RSV1 the message is not
                compressed and ``data`` comes back unchanged (RFC 7692 §6.1).
            fin: Whether this is the message's final frame.
            max_size: How many bytes this frame may inflate to, or ``None`` for no limit.

        Returns:
            The inflated bytes of this frame.

        Raises:
            RemoteProtocolError: the payload is not valid DEFLATE data (close code 1007).
            MessageTooBig: inflating would produce more than ``max_size`` bytes; raised with
                at most ``max_size + 1`` bytes inflated.
            LocalProtocolError: the extension has not been negotiated.
        """
        if not self._negotiated:
            raise LocalProtocolError("permessage-deflate is not negotiated")
        if not rsv & _RSV1:
            return data
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = zlib.decompressobj(-self._remote_bits)
            self._decompressor = decompressor
        try:
            if decompressor.eof:
                # A block with BFINAL set ended the DEFLATE stream earlier in this message
                # (RFC 7692 §7.2.3.4 allows that); only zero padding may follow it.
                _check_padding(data)
                output = b""
            else:
                output = self._inflate(decompressor, data, max_size)
                if _stream_ended(decompressor):  # a BFINAL block in this frame
                    _check_padding(decompressor.unused_data)
                elif fin:
                    # RFC 7692 §7.2.2: append 00 00 ff ff to the message's payload.
                    left = None if max_size is None else max_size - len(output)
                    output += self._inflate(decompressor, _TAIL, left)
        except zlib.error as exc:
            self._decompressor = None
            # 1007 rather than 1002: the frames were well formed, their payload was not the
            # data the negotiated encoding promises, the same kind of failure as invalid
            # UTF-8 in a text message. Node's ws library answers 1007 too; RFC 7692 itself
            # only says to fail the connection.
            raise RemoteProtocolError(
                f"invalid compressed data in permessage-deflate message: {exc}", close_code=1007
            ) from None
        except MessageTooBig:
            self._decompressor = None
            raise
        # RFC 7692 §7.1.1.1/§7.1.1.2: with no context takeover the peer starts every message
        # from an empty window, so ours can go; after BFINAL a new stream begins anyway.
        if fin and (self._remote_no_context_takeover or decompressor.eof):
            self._decompressor = None
        return output

    @staticmethod
    def _inflate(decompressor: _Decompress, data: bytes, budget: int | None) -> bytes:
        if budget is None:
            return decompressor.decompress(data)
        # One byte over the budget tells "exactly at the limit" from "over it"; max_length is
        # never 0, which zlib would read as "no limit".
        output = decompressor.decompress(data, max(budget, 0) + 1)
        if len(output) > budget or decompressor.unconsumed_tail:
            raise MessageTooBig("message too big: its decompressed size exceeds the limit")
        return output

    def encode(
        self, data: bytes, *, first: bool, fin: bool, compress: bool | None
    ) -> tuple[int, bytes]:
        """Deflate the payload of one outgoing data frame, if its message is compressed.

        Args:
            data: The application payload of this frame.
            first: Whether this frame starts a message.
            fin: Whether this frame ends the message.
            compress: Read on the first frame: ``True`` or ``False`` forces the choice for the
                whole message, ``None`` compresses when ``len(data)`` reaches the threshold.

        Returns:
            The RSV bits of this frame (RSV1 on the first frame of a compressed message only,
            RFC 7692 §6) and the payload to send.

        Raises:
            LocalProtocolError: the extension has not been negotiated.
        """
        if not self._negotiated:
            raise LocalProtocolError("permessage-deflate is not negotiated")
        if first:
            self._compressing = len(data) >= self._threshold if compress is None else compress
        if not self._compressing:
            return 0, data
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self._compress_level, zlib.DEFLATED, -self._local_bits, self._mem_level
            )
            self._compressor = compressor
        # Z_SYNC_FLUSH ends every frame on a byte boundary, so the peer can inflate each
        # fragment of a streamed message as soon as it arrives.
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            # compress() always precedes the flush, so zlib always emits the empty stored
            # block: the payload ends with 00 00 ff ff.
            assert payload.endswith(_TAIL)
            # RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff at the tail end. What remains
            # of a flush with no new data is b"\x00", the stored block's header: the payload
            # that §7.2.3.6 gives for an empty final fragment.
            payload = payload[:-4]
            # RFC 7692 §7.1.1: without context takeover, start the next message afresh.
            if self._local_no_context_takeover:
                self._compressor = None
        return (_RSV1 if first else 0), payload


def _check_padding(data: bytes) -> None:
    """After a BFINAL block only zero padding may follow (RFC 7692 §7.2.3.4's examples)."""
    if data.strip(b"\x00"):
        raise RemoteProtocolError(
            "data after the final DEFLATE block of a compressed message", close_code=1007
        )


def _stream_ended(decompressor: _Decompress) -> bool:
    return decompressor.eof
