"""Every conformance case runs twice: over a stream that is the connection (as TCP is, for
HTTP/1.1) and over one HTTP/2 stream opened by an extended CONNECT (RFC 8441)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import rawpeer


@pytest.fixture(autouse=True, params=["http1", "http2"])
def transport(request: pytest.FixtureRequest) -> Iterator[str]:
    rawpeer.TRANSPORT = request.param
    try:
        yield request.param
    finally:
        rawpeer.TRANSPORT = "http1"
