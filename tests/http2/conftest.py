"""Shared by the HTTP/2 tests: one throwaway certificate authority per module."""

from __future__ import annotations

import pytest
import trustme


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()
