"""WebSocket masking (RFC 6455, section 5.3): the hot loop of the protocol.

A client masks every frame it sends by XORing payload byte ``i`` with ``key[i % 4]``, using a
fresh unpredictable 4-byte key per frame; the server applies the same XOR to unmask.

:func:`mask` is the C accelerator (``trio_ws.protocol._speedups``) when it was built, else
:func:`mask_python`, which XORs the payload as one big integer (in 32 KiB slices for large
payloads, which keeps the integers cache-sized) instead of looping over bytes in Python.
``HAS_SPEEDUPS`` tells which one is in use. Both return new ``bytes`` and agree byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["HAS_SPEEDUPS", "mask", "mask_python", "new_mask_key"]

#: Payloads longer than this are masked slice by slice. A multiple of 4, so that every slice
#: starts at key phase 0. 16-32 KiB measured fastest: about 1.7x one big integer at 1 MiB,
#: where the integers and their conversions no longer fit in cache (timeit, CPython 3.11).
_SLICE = 1 << 15


def mask_python(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Mask or unmask ``data`` with ``key`` in pure Python.

    Args:
        data: The payload. A memoryview may have any format or strides; its raw bytes are used.
        key: The masking key, exactly 4 bytes.

    Returns:
        ``data`` XORed with ``key`` repeated over its length, as new ``bytes``.

    Raises:
        ValueError: If ``key`` is not exactly 4 bytes long.
    """
    if type(key) is not bytes:
        key = bytes(key)
    if len(key) != 4:
        raise ValueError(f"mask key must be exactly 4 bytes, got {len(key)}")
    n = data.nbytes if isinstance(data, memoryview) else len(data)
    if n <= _SLICE:
        if not n:
            return b""
        # int.from_bytes copies any buffer (even a strided memoryview) as its raw bytes.
        keystream = (key * ((n + 3) >> 2))[:n]
        return (int.from_bytes(data) ^ int.from_bytes(keystream)).to_bytes(n)

    view = memoryview(data)
    view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    from_bytes = int.from_bytes
    key_int = from_bytes(key * (_SLICE >> 2))
    whole = n - n % _SLICE
    parts = [
        (from_bytes(view[i : i + _SLICE]) ^ key_int).to_bytes(_SLICE)
        for i in range(0, whole, _SLICE)
    ]
    if rest := n - whole:
        # The first ``rest`` bytes of the slice's keystream are the top bytes of key_int.
        tail_key = key_int >> (8 * (_SLICE - rest))
        parts.append((from_bytes(view[whole:]) ^ tail_key).to_bytes(rest))
    return b"".join(parts)


mask: Callable[[bytes | bytearray | memoryview, bytes], bytes]
HAS_SPEEDUPS: bool
try:
    from ._speedups import mask
except ImportError:  # not built: no compiler, TRIO_WS_NO_EXTENSIONS=1, or another interpreter
    mask = mask_python
    HAS_SPEEDUPS = False
else:
    HAS_SPEEDUPS = True


def new_mask_key() -> bytes:
    """Return a fresh masking key: 4 bytes from the operating system's CSPRNG.

    RFC 6455 requires the key to be unpredictable to the application, so that script running in
    a browser cannot choose the bytes an intermediary sees on the wire.
    """
    return os.urandom(4)
