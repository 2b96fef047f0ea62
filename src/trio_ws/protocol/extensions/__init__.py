"""WebSocket extensions for the sans-IO core."""

from ._base import Extension as Extension, ExtensionParams as ExtensionParams

__all__ = ["Extension", "ExtensionParams"]
