"""WebSocket extensions for the sans-IO core."""

from ._base import Extension as Extension
from ._base import ExtensionParams as ExtensionParams
from ._permessage_deflate import PerMessageDeflate as PerMessageDeflate

__all__ = ["Extension", "ExtensionParams", "PerMessageDeflate"]
