"""The single source of the trio-ws version."""

__version__ = "0.1.0.dev0"
