"""Interop with a real browser: headless Chromium, driven by Playwright, as a client of our server.

Our server runs in a background thread (``trio.run``): Playwright's sync API runs its own
event loop and cannot run inside trio's. The server serves the test page on ``/`` (a plain
HTTP answer from the same handler) and WebSockets on ``/ws``; the page's script runs the
scenarios and returns what the browser saw, and the server records what it saw.

Playwright's own browser downloads are never used: the Debian ``chromium`` package is.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from pathlib import Path
from typing import Any, Self

import pytest
import trio

import trio_ws

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
]

pytestmark = pytest.mark.network

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>trio-ws interop</title></head>
<body><h1>trio-ws and Chromium</h1><pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };

function connect(protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${location.host}/ws`, protocols);
    ws.binaryType = "arraybuffer";
    const inbox = [], waiters = [];
    ws.onmessage = (event) => {
      if (waiters.length) waiters.shift()(event.data); else inbox.push(event.data);
    };
    ws.next = () => inbox.length ? Promise.resolve(inbox.shift()) : new Promise((ok, fail) => {
      waiters.push(ok);
      setTimeout(() => fail(new Error("no message within 10 s")), 10000);
    });
    ws.closed = new Promise((ok) => { ws.onclose = (e) => ok(
      {code: e.code, reason: e.reason, wasClean: e.wasClean}); });
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error"));
    setTimeout(() => reject(new Error("not open within 10 s")), 10000);
  });
}

async function runAll() {
  const result = {};
  const ws = await connect(["a", "b"]);
  result.protocol = ws.protocol;
  result.extensions = ws.extensions;
  log(`open: protocol=${ws.protocol} extensions=${ws.extensions}`);

  ws.send("hello from chromium ✓");
  result.text = await ws.next();

  const bytes = new Uint8Array(256).map((_, i) => i);
  ws.send(bytes.buffer);
  const echoed = await ws.next();
  result.binaryIsArrayBuffer = echoed instanceof ArrayBuffer;
  result.binary = Array.from(new Uint8Array(echoed));

  const big = "0123456789abcdef".repeat(65536);  // 1 MiB
  ws.send(big);
  const bigEcho = await ws.next();
  result.bigLength = bigEcho.length;
  result.bigEqual = bigEcho === big;

  for (let i = 0; i < 100; i++) ws.send(`burst ${i}`);
  const burst = [];
  for (let i = 0; i < 100; i++) burst.push(await ws.next());
  result.burstInOrder = burst.every((m, i) => m === `burst ${i}`);
  log(`echoes: text, binary, 1 MiB, burst of 100 in order: ${result.burstInOrder}`);

  ws.close(4001, "bye");
  result.browserClose = await ws.closed;
  log(`browser-initiated close: ${JSON.stringify(result.browserClose)}`);

  const ws2 = await connect([]);
  ws2.send("please close");
  result.serverClose = await ws2.closed;
  log(`server-initiated close: ${JSON.stringify(result.serverClose)}`);
  return result;
}
</script></body></html>
"""


class OurServer:
    """Our server in a background thread; records what each WebSocket connection saw."""

    def __init__(self) -> None:
        self.port = 0
        self.records: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._thread = threading.Thread(target=self._run, name="trio-ws-server", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError(f"our server did not start: {self.errors}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None and self._scope is not None:
            try:
                trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)
        assert not self._thread.is_alive(), "our server thread did not stop"

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as self._scope:
            async with trio.open_nursery() as nursery:
                server = await nursery.start(
                    partial(trio_ws.serve, self._handler, "127.0.0.1", 0, ping_interval=None)
                )
                self.port = server.port
                self._ready.set()
                try:
                    await trio.sleep_forever()
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(2):
                        await server.aclose()  # cancelling serve() alone leaks its listener

    async def _handler(self, request: trio_ws.WebSocketRequest) -> None:
        try:
            if not request.is_websocket:
                if request.path == "/":
                    await request.respond(
                        200, headers=[("Content-Type", "text/html; charset=utf-8")], body=PAGE
                    )
                else:
                    await request.respond(404, body="not found")
                return
            record: dict[str, Any] = {"offered": list(request.subprotocols)}
            self.records.append(record)
            ws = await request.accept(subprotocol="b" if "b" in request.subprotocols else None)
            record["extensions"] = [extension.name for extension in ws.extensions]
            record["subprotocol"] = ws.subprotocol
            # A receive() loop: leaving ``async for message in ws`` early leaves an
            # unfinished async generator behind (test_regressions.py).
            try:
                while True:
                    message = await ws.receive()
                    if message == "please close":
                        await ws.aclose(1000, "server done")
                        break
                    await ws.send(message)
            except trio_ws.ConnectionClosed:
                pass
            record["close"] = [ws.close_code, ws.close_reason]
        except BaseException as exc:
            self.errors.append(exc)
            raise


def test_chromium_client() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium; see .ci/system-packages)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (uv sync --group test)"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with OurServer() as server, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(f"http://127.0.0.1:{server.port}/")
            result = page.evaluate("runAll()")
            page.screenshot(path=str(ARTIFACTS / "chromium-interop.png"), full_page=True)
        finally:
            browser.close()

    assert not server.errors, server.errors
    assert result["protocol"] == "b"
    assert result["extensions"].startswith("permessage-deflate"), result["extensions"]
    assert result["text"] == "hello from chromium ✓"
    assert result["binaryIsArrayBuffer"] is True
    assert result["binary"] == list(range(256))
    assert result["bigLength"] == 2**20
    assert result["bigEqual"] is True
    assert result["burstInOrder"] is True
    assert result["browserClose"] == {"code": 4001, "reason": "bye", "wasClean": True}
    assert result["serverClose"] == {"code": 1000, "reason": "server done", "wasClean": True}

    first, second = server.records
    assert first == {
        "offered": ["a", "b"],
        "extensions": ["permessage-deflate"],
        "subprotocol": "b",
        "close": [4001, "bye"],
    }, json.dumps(first)
    assert second["offered"] == []
    assert second["subprotocol"] is None
    assert second["extensions"] == ["permessage-deflate"]
    assert second["close"] == [1000, "server done"]
