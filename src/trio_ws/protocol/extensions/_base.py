"""The extension interface of the core (RFC 6455 §9).

An :class:`Extension` instance belongs to one connection. It takes part in the opening
handshake (the client offers, the server accepts or declines each offer, the client checks the
answer) and, once negotiated, sees every data frame of every message in both directions.

Division of labour with :class:`~trio_ws.protocol.Connection`:

* The connection parses frames, enforces the framing rules and checks RSV bits: on the first
  frame of a data message, only bits in the :attr:`~Extension.rsv_mask` of a negotiated
  extension are allowed; on continuation and control frames, any RSV bit fails with 1002.
* The extension transforms payloads: :meth:`~Extension.decode` for incoming data frames,
  :meth:`~Extension.encode` for outgoing ones. It keeps its own per-message state (was this
  message compressed?) between the first and the final frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TypeAlias

__all__ = ["Extension", "ExtensionParams"]

#: An extension's parameters, in order: ``(name, value)`` with ``value=None`` for a parameter
#: given without a value (``client_max_window_bits``). Values are already unquoted.
ExtensionParams: TypeAlias = list[tuple[str, str | None]]


class Extension(ABC):
    """A WebSocket extension negotiated in the opening handshake.

    Subclass it to implement one; :class:`~trio_ws.protocol.extensions.PerMessageDeflate` is
    the one trio-ws ships. An instance is used by a single connection, in a single role.
    """

    #: The extension token in ``Sec-WebSocket-Extensions``.
    name: ClassVar[str]
    #: The RSV bits the extension owns, as a mask of the first frame byte (RSV1 is ``0x40``).
    rsv_mask: ClassVar[int] = 0

    @property
    def negotiated(self) -> bool:
        """Whether negotiation has configured this instance, so that it may encode and decode.

        :meth:`Connection.opened() <trio_ws.protocol.Connection.opened>` checks it. This
        default says ``True``; an extension that tracks negotiation overrides it.
        """
        return True

    # --- Opening handshake ------------------------------------------------------------------

    @abstractmethod
    def offer(self) -> ExtensionParams:
        """Client side: return the parameters to offer."""

    @abstractmethod
    def accept_response(self, params: ExtensionParams) -> None:
        """Client side: check the server's answer to our offer and configure ourselves.

        Raises:
            RemoteProtocolError: the answer is not one we can accept (unknown, duplicated or
                out-of-range parameter, or one we did not offer). The client fails the
                handshake.
        """

    @abstractmethod
    def accept_offer(self, params: ExtensionParams) -> ExtensionParams | None:
        """Server side: answer one offer of the client.

        Returns:
            The parameters of the answer, which also configures this instance, or ``None``
            to decline this offer (the server then tries the client's next offer, if any).
        """

    # --- Data frames ---------------------------------------------------------------------

    @abstractmethod
    def decode(self, data: bytes, *, rsv: int, fin: bool, max_size: int | None) -> bytes:
        """Transform the payload of one incoming data frame.

        Args:
            data: The frame's payload, unmasked.
            rsv: The RSV bits of the message's *first* frame (``0x70`` mask of its first byte).
            fin: Whether this is the message's final frame.
            max_size: How many decoded bytes the message may still grow by, or ``None``.

        Raises:
            RemoteProtocolError: the payload cannot be decoded (close code 1007 or 1002).
            MessageTooBig: decoding would exceed ``max_size``; raised before inflating past it.
        """

    @abstractmethod
    def encode(
        self, data: bytes, *, first: bool, fin: bool, compress: bool | None
    ) -> tuple[int, bytes]:
        """Transform the payload of one outgoing data frame.

        Args:
            data: The application payload of this frame.
            first: Whether this frame starts a message.
            fin: Whether this frame ends the message.
            compress: Per-message choice, read on the first frame: ``True`` or ``False`` to
                force, ``None`` to let the extension decide.

        Returns:
            The RSV bits to set on this frame and the payload to send.
        """
