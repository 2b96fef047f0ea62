"""Incremental UTF-8 validation fails at exactly the first byte that cannot be valid."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from trio_ws.protocol._utf8 import Utf8Decoder


def first_bad_index(data: bytes) -> int | None:
    """Reference: index of the first byte that no valid UTF-8 can contain there (RFC 3629)."""
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            ranges = [(0x80, 0xBF)]
        elif b == 0xE0:
            ranges = [(0xA0, 0xBF), (0x80, 0xBF)]
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            ranges = [(0x80, 0xBF)] * 2
        elif b == 0xED:
            ranges = [(0x80, 0x9F), (0x80, 0xBF)]
        elif b == 0xF0:
            ranges = [(0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)]
        elif 0xF1 <= b <= 0xF3:
            ranges = [(0x80, 0xBF)] * 3
        elif b == 0xF4:
            ranges = [(0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)]
        else:
            return i
        for k, (lo, hi) in enumerate(ranges, 1):
            if i + k >= n:
                return None  # incomplete but still possibly valid
            if not lo <= data[i + k] <= hi:
                return i + k
        i += len(ranges) + 1
    return None


utf8ish = st.lists(
    st.one_of(
        st.characters(exclude_categories=("Cs",)).map(lambda c: c.encode()),
        st.binary(min_size=1, max_size=3),
        st.sampled_from(
            [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf8"]
        ),
    ),
    max_size=12,
).map(b"".join)


@given(data=utf8ish, split=st.integers(0, 40))
@example(data=b"a\xed\xa0\x80", split=2)
def test_fails_at_first_invalid_byte(data: bytes, split: int) -> None:
    """Feeding byte by byte, the decoder raises exactly when the reference says so."""
    bad = first_bad_index(data)
    decoder = Utf8Decoder()
    out = []
    for i in range(len(data)):
        try:
            out.append(decoder.decode(data[i : i + 1], False))
        except UnicodeDecodeError:
            assert bad == i, (data, i, bad)
            return
    assert bad is None, (data, bad)
    try:
        out.append(decoder.decode(b"", True))
    except UnicodeDecodeError:
        # Only a truncated sequence at the end may fail at the very end.
        assert data.decode("utf-8", "replace").endswith("\ufffd")
        return
    assert "".join(out) == data.decode("utf-8")
