"""The sans-IO WebSocket protocol core (filled in below)."""
