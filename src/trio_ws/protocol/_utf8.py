"""Incremental UTF-8 validation that fails at the first invalid byte (RFC 6455 §8.1).

Python's incremental UTF-8 decoder already rejects overlong forms, code points above
U+10FFFF and stray continuation bytes as soon as it sees them. The one case it defers is a
surrogate: after ``ED A0`` it waits for a third byte, although no valid sequence starts that
way (``ED`` may only be followed by ``80``-``9F``). :class:`Utf8Decoder` checks that prefix
too, so a text message with a surrogate fails at its second byte, like any other error.
"""

from __future__ import annotations

import codecs

__all__ = ["Utf8Decoder"]

_new_decoder = codecs.getincrementaldecoder("utf-8")


class Utf8Decoder:
    """Decode one text message piece by piece, raising at the first invalid sequence."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = _new_decoder("strict")

    def decode(self, data: bytes, final: bool) -> str:
        """Decode the next piece of the message.

        Raises:
            UnicodeDecodeError: the bytes seen so far cannot start valid UTF-8.
        """
        text = self._decoder.decode(data, final)
        if not final:
            pending = self._decoder.getstate()[0]
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] > 0x9F:
                raise UnicodeDecodeError("utf-8", pending, 0, 2, "encoded surrogate")
        return text
