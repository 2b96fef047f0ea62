"""wss:// end to end over loopback with a trustme certificate authority."""

from __future__ import annotations

import ssl

import pytest
import trio
import trustme

import trio_ws

from .helpers import echo
from .netutil import running_server

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


async def test_wss_echo(ca: trustme.CA, server_context: ssl.SSLContext) -> None:
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with trio.fail_after(10):
        async with running_server(echo, ssl_context=server_context) as server:
            async with trio_ws.open_websocket(
                f"wss://localhost:{server.port}/", ssl_context=client_context
            ) as ws:
                await ws.send("secret")
                assert await ws.receive() == "secret"
                await ws.send(bytes(200_000))
                assert await ws.receive() == bytes(200_000)
            assert ws.close_code == 1000


async def test_untrusted_certificate_fails(server_context: ssl.SSLContext) -> None:
    with trio.fail_after(10):
        async with running_server(echo, ssl_context=server_context) as server:
            with pytest.raises(trio_ws.TLSError) as info:
                async with trio_ws.open_websocket(f"wss://localhost:{server.port}/"):
                    pass
            # One documented exception, the ssl error chained, and not worth retrying.
            assert info.value.certificate_rejected
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
            assert "certificate verify failed" in str(info.value)
            assert not trio_ws.should_reconnect(info.value)


async def test_plain_tcp_server_behind_wss_is_a_tls_error() -> None:
    """A wss:// client talking to a plain ws:// server: a TLSError, not a bare
    BrokenResourceError, and worth retrying (the certificate was not the problem)."""
    with trio.fail_after(10):
        async with running_server(echo) as server:
            with pytest.raises(trio_ws.TLSError) as info:
                async with trio_ws.open_websocket(f"wss://localhost:{server.port}/"):
                    pass
            assert not info.value.certificate_rejected
            assert info.value.__cause__ is not None
            assert trio_ws.should_reconnect(info.value)
