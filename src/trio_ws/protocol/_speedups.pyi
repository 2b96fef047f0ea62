# C accelerator for WebSocket masking (RFC 6455, section 5.3); see trio_ws.protocol._mask.
# The implementation and its docstring live in _speedups.c.

from typing_extensions import Buffer

def mask(data: Buffer, key: Buffer, /) -> bytes: ...
