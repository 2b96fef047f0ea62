"""Compatibility layers: other libraries' APIs on top of trio-ws.

* :mod:`trio_ws.compat.trio_websocket`: the public API of
  `trio-websocket <https://trio-websocket.readthedocs.io/>`_, so an application migrates by
  changing one import.
"""
