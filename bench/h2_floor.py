"""What h2 itself costs per WebSocket message carried in one DATA frame, without I/O.

Run::

    uv run python bench/h2_floor.py

Two h2 connections (client and server) joined in memory, one extended CONNECT stream; each
operation is one DATA frame sent by one side and received by the other (``send_data``,
``data_to_send``, ``receive_data``, and the flow-control bookkeeping), which is the least an
HTTP/2 WebSocket message costs on top of the same message over HTTP/1.1 (bench/run.py).
"""

from __future__ import annotations

import time

import h2.config
import h2.connection
import h2.events


def pair() -> tuple[h2.connection.H2Connection, h2.connection.H2Connection, int]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    server.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1}
    )
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    headers = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "bench"),
    ]
    client.send_headers(1, headers)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200")])
    client.receive_data(server.data_to_send())
    return client, server, 1


def per_frame(size: int, count: int) -> float:
    client, server, stream = pair()
    payload = b"x" * size
    start = time.process_time()
    for _ in range(count):
        client.send_data(stream, payload)
        for event in server.receive_data(client.data_to_send()):
            if isinstance(event, h2.events.DataReceived):
                server.acknowledge_received_data(event.flow_controlled_length, stream)
        client.receive_data(server.data_to_send())
    return (time.process_time() - start) / count * 1e6


if __name__ == "__main__":
    for size in (32, 1024, 16384):
        print(f"h2, one {size}-byte DATA frame sent and received: {per_frame(size, 20000):.1f} µs")
