"""One frame for many connections: a broadcast encodes its message once.

:func:`serialize_message` builds the frame; :meth:`Connection.can_share_frames
<trio_ws.protocol.Connection.can_share_frames>` says which connections can take it as is, and
:meth:`Connection.send_serialized <trio_ws.protocol.Connection.send_serialized>` queues it.
"""

from __future__ import annotations

from ._errors import LocalProtocolError
from ._events import BytesMessage, TextMessage, as_byte_buffer
from ._frames import Opcode, serialize_frame

__all__ = ["serialize_message"]


def serialize_message(event: TextMessage | BytesMessage) -> bytes:
    """Build the unmasked, unextended frame of a whole message, once, for many connections.

    Queue it with :meth:`Connection.send_serialized` on every connection whose
    :meth:`Connection.can_share_frames` is true; the others need their own
    :meth:`Connection.send`.
    """
    if not event.message_finished:
        raise LocalProtocolError("only a whole message can be shared")
    if isinstance(event, TextMessage):
        try:
            payload = event.data.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError("text contains a lone surrogate") from None
        return serialize_frame(Opcode.TEXT, payload)
    return serialize_frame(Opcode.BINARY, as_byte_buffer(event.data))
