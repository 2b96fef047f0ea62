"""Size limits of the sans-IO core, each with the reason for its default.

Every limit is enforced before the memory it guards is allocated: frame lengths are checked
as soon as the frame header is parsed, message sizes against what remains of the message's
budget, and inflation is capped by that same budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_HANDSHAKE_HEADERS",
    "DEFAULT_MAX_HANDSHAKE_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_REJECT_BODY_SIZE",
    "Limits",
]

#: 1 MiB: the default of the most used Python and Node.js libraries (websockets, ws uses 100 MiB
#: but browsers' own pages rarely send more than a few hundred KiB per message). Raise it for
#: file transfers; stream large payloads instead where you can.
DEFAULT_MAX_MESSAGE_SIZE = 2**20

#: ``None``: a frame is limited by the message budget it belongs to, which is enough to refuse
#: a 2 GiB declared length before reading a byte of it.
DEFAULT_MAX_FRAME_SIZE: int | None = None

#: 4096: memory per message does not depend on the number of fragments (they are assembled
#: into one growing buffer), but CPU does (a few microseconds per frame), and a message that
#: never ends should not be tracked forever. A 1 MiB message in fragments of 256 bytes or more
#: passes; real peers send far fewer (browsers, Node's ws and websockets send one frame per
#: message). Autobahn's cases 9.3.x and 9.4.x (4 MiB in fragments as small as 64 bytes) need
#: it raised along with the message size limit.
DEFAULT_MAX_FRAGMENTS: int | None = 4096

#: 8 KiB for the whole request or response head: what nginx (``large_client_header_buffers``
#: 8k per line), Node.js (16 KiB total since v14) and h11 (16 KiB) bound around; a WebSocket
#: upgrade with cookies fits comfortably.
DEFAULT_MAX_HANDSHAKE_SIZE = 8 * 1024

#: 100 header fields: Apache's ``LimitRequestFields`` default.
DEFAULT_MAX_HANDSHAKE_HEADERS = 100

#: 64 KiB: a client keeps at most this much of a rejection's body (an error page).
DEFAULT_MAX_REJECT_BODY_SIZE = 64 * 1024


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The size limits one :class:`~trio_ws.protocol.Connection` enforces.

    ``None`` turns a limit off.

    Args:
        max_message_size: Largest incoming message, after decompression, in bytes. A larger
            one fails the connection with close code 1009.
        max_frame_size: Largest incoming frame payload in bytes (1009 when exceeded).
        max_fragments: Most frames one incoming message may span (1009 when exceeded).
        max_handshake_size: Largest HTTP head of the opening handshake, in bytes
            (431 on the server, an error on the client).
        max_handshake_headers: Most header fields in that head (431 / an error).
        max_reject_body_size: Largest rejection body a client keeps.
    """

    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE
    max_fragments: int | None = DEFAULT_MAX_FRAGMENTS
    max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE
    max_handshake_headers: int = DEFAULT_MAX_HANDSHAKE_HEADERS
    max_reject_body_size: int = DEFAULT_MAX_REJECT_BODY_SIZE
