"""The pub/sub page over https and HTTP/2 in headless Chromium: the page's WebSocket is a
stream of the page's own HTTP/2 connection (RFC 8441 extended CONNECT), counted in /stats.

The server runs as a user would run it with a certificate (a subprocess of
examples/pubsub/server.py with ``--certfile``); the certificate comes from trustme, and
Chromium accepts it by its public key (``--ignore-certificate-errors-spki-list``), so the
connection is a normal, trusted one, which Chromium may reuse for WebSockets.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .test_pubsub_browser import ARGS, ARTIFACTS, CHROMIUM, ROOT, two_tabs_publish

pytestmark = pytest.mark.network


def spki_hash(cert_pem: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): how Chromium names a key to trust."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


@pytest.fixture
def https_pubsub(tmp_path: Path) -> Iterator[tuple[str, str]]:
    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    command = [sys.executable, str(ROOT / "examples/pubsub/server.py"), "--port", "0"]
    command += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on https://\S+:(\d+)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        yield f"https://localhost:{match.group(1)}", spki_hash(cert.cert_chain_pems[0].bytes())
    finally:
        process.kill()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_the_page_and_its_websocket_share_one_http2_connection(
    https_pubsub: tuple[str, str],
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    url, spki = https_pubsub
    args = [*ARGS, f"--ignore-certificate-errors-spki-list={spki}"]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(viewport={"width": 900, "height": 700})
            tabs = [context.new_page(), context.new_page()]
            publisher, subscriber = two_tabs_publish(tabs, url, "hello over HTTP/2")
            for tab in tabs:
                protocol = "performance.getEntriesByType('navigation')[0].nextHopProtocol"
                assert tab.evaluate(protocol) == "h2"
            stats = publisher.evaluate("fetch('/stats').then((r) => r.json())")
            print("stats seen from Chromium:", stats)
            assert stats["websockets_over_http2"] == 2, stats
            assert stats["connections"] == 2, stats
            assert stats["messages_in"] >= 3, stats  # two subscribes and a publish
            ARTIFACTS.mkdir(exist_ok=True)
            subscriber.screenshot(path=str(ARTIFACTS / "pubsub-http2-subscriber.png"))
        finally:
            browser.close()
