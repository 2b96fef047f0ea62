"""Tests for WebSocket masking: the pure Python path, the C accelerator, and their agreement."""

from __future__ import annotations

import array
import threading
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trio_ws.protocol import _mask
from trio_ws.protocol._mask import HAS_SPEEDUPS, mask, mask_python, new_mask_key

MaskFn = Callable[[bytes | bytearray | memoryview, bytes], bytes]

needs_speedups = pytest.mark.skipif(
    not HAS_SPEEDUPS,
    reason="trio_ws.protocol._speedups is not built (no C compiler or TRIO_WS_NO_EXTENSIONS=1)",
)

c_mask: MaskFn
if HAS_SPEEDUPS:
    from trio_ws.protocol._speedups import mask as c_mask
else:  # pragma: no cover - depends on the build
    c_mask = mask_python

#: Both implementations; the C one is skipped (with its reason) when it is not built.
IMPLEMENTATIONS = [
    pytest.param(mask_python, id="python"),
    pytest.param(c_mask, id="c", marks=needs_speedups),
]

RFC_KEY = bytes.fromhex("37fa213d")
RFC_MASKED_HELLO = bytes.fromhex("7f9f4d5158")

#: Sizes around every boundary: the 8- and 32-byte C blocks, the Python slice, the GIL release.
BOUNDARY_SIZES = sorted(
    {n + d for n in (0, 4, 8, 32, _mask._SLICE, 2 * _mask._SLICE, 65536) for d in (-1, 0, 1, 3)}
    - {-1}
)
LARGE_SIZES = [2**20, 2**20 + 3, 3 * 2**20 + 1]


def reference_mask(data: bytes, key: bytes) -> bytes:
    """The obvious per-byte definition from RFC 6455 section 5.3, as the oracle."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def pattern(n: int) -> bytes:
    """Deterministic non-repeating-with-period-4 bytes of length n, cheap for large n."""
    return bytes(range(251)) * (n // 251) + bytes(range(n % 251))


keys = st.binary(min_size=4, max_size=4)
payloads = st.one_of(st.binary(max_size=256), st.binary(max_size=70 * 1024))


# --- RFC 6455 section 5.7 example --------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_rfc6455_masked_hello(impl: MaskFn) -> None:
    assert impl(b"Hello", RFC_KEY) == RFC_MASKED_HELLO
    assert impl(RFC_MASKED_HELLO, RFC_KEY) == b"Hello"


def test_mask_is_c_when_built() -> None:
    assert (mask is c_mask) if HAS_SPEEDUPS else (mask is mask_python)
    assert mask(b"Hello", RFC_KEY) == RFC_MASKED_HELLO


# --- properties ----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(data=payloads, key=keys)
@example(data=b"", key=b"\0\0\0\0")
@example(data=b"\xff" * 7, key=b"\xff\xff\xff\xff")
def test_masking_twice_is_identity(impl: MaskFn, data: bytes, key: bytes) -> None:
    masked = impl(data, key)
    assert type(masked) is bytes
    assert len(masked) == len(data)
    assert impl(masked, key) == data


@needs_speedups
@given(data=payloads, key=keys)
@example(data=b"", key=b"abcd")
def test_c_and_python_agree(data: bytes, key: bytes) -> None:
    assert c_mask(data, key) == mask_python(data, key)


@needs_speedups
@given(data=st.binary(max_size=2 * _mask._SLICE + 64), key=keys, start=st.integers(0, 7))
def test_agree_on_buffer_types(data: bytes, key: bytes, start: int) -> None:
    expected = mask_python(data[start:], key)
    for buf in (
        bytearray(data)[start:],
        memoryview(data)[start:],
        memoryview(bytearray(data))[start:],
    ):
        assert c_mask(buf, key) == expected
        assert mask_python(buf, key) == expected


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("n", BOUNDARY_SIZES)
def test_boundary_sizes_match_reference(impl: MaskFn, n: int) -> None:
    data = pattern(n)
    key = b"\x01\x80\xfe\x7f"
    assert impl(data, key) == reference_mask(data, key)


@needs_speedups
@pytest.mark.parametrize("n", LARGE_SIZES)
def test_large_payloads_agree(n: int) -> None:
    data = pattern(n)
    key = b"\x9a\x00\x5c\xe1"
    masked = c_mask(data, key)
    assert masked == mask_python(data, key)
    assert c_mask(masked, key) == data
    # Spot-check against the definition without paying for a per-byte loop over 1 MiB.
    for i in (0, 1, 2, 3, n // 2, n - 5, n - 1):
        assert masked[i] == data[i] ^ key[i % 4]


# --- argument handling ---------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "make", [bytes, bytearray, memoryview, lambda b: memoryview(bytearray(b))], ids=repr
)
def test_accepts_bytes_like(impl: MaskFn, make: Callable[[bytes], bytes]) -> None:
    assert impl(make(b"Hello"), RFC_KEY) == RFC_MASKED_HELLO


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_sliced_memoryview_uses_only_its_window(impl: MaskFn) -> None:
    framed = b"\x81\x85" + RFC_KEY + RFC_MASKED_HELLO + b"trailing"
    assert impl(memoryview(framed)[6:11], RFC_KEY) == b"Hello"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("n", [5, 40, 2 * _mask._SLICE + 3])
def test_memoryview_of_wider_items_is_masked_as_raw_bytes(impl: MaskFn, n: int) -> None:
    raw = pattern(4 * n)
    view = memoryview(array.array("I", raw))
    assert impl(view, RFC_KEY) == mask_python(raw, RFC_KEY)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("n", [10, 2 * _mask._SLICE + 7])
def test_strided_memoryview_is_gathered(impl: MaskFn, n: int) -> None:
    raw = pattern(n)
    view = memoryview(raw)[::2]
    assert not view.c_contiguous
    assert impl(view, RFC_KEY) == mask_python(raw[::2], RFC_KEY)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_key_may_be_any_bytes_like(impl: MaskFn) -> None:
    assert impl(b"Hello", bytearray(RFC_KEY)) == RFC_MASKED_HELLO  # type: ignore[arg-type]
    assert impl(b"Hello", memoryview(RFC_KEY)) == RFC_MASKED_HELLO  # type: ignore[arg-type]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", b"\0" * 8])
def test_rejects_key_not_4_bytes(impl: MaskFn, key: bytes) -> None:
    with pytest.raises(ValueError, match="exactly 4 bytes"):
        impl(b"payload", key)
    with pytest.raises(ValueError, match="exactly 4 bytes"):
        impl(b"", key)


@needs_speedups
def test_c_rejects_non_buffers_and_wrong_arity() -> None:
    with pytest.raises(TypeError):
        c_mask("Hello", RFC_KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c_mask(b"Hello", "abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c_mask(b"Hello")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        c_mask(b"Hello", RFC_KEY, RFC_KEY)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        c_mask(data=b"Hello", key=RFC_KEY)  # type: ignore[call-arg]


@needs_speedups
def test_c_does_not_modify_input_and_bytearray_stays_resizable() -> None:
    buf = bytearray(pattern(2**17))
    before = bytes(buf)
    c_mask(buf, RFC_KEY)
    assert buf == before
    buf.extend(b"more")  # the buffer export was released, even on the GIL-free path


@needs_speedups
def test_c_runs_in_threads() -> None:
    data = pattern(2**18 + 1)
    expected = mask_python(data, RFC_KEY)
    results: list[bytes] = []

    def work() -> None:
        results.append(c_mask(data, RFC_KEY))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


# --- keys ----------------------------------------------------------------------------------


def test_new_mask_key() -> None:
    keys_seen = {new_mask_key() for _ in range(64)}
    assert all(type(k) is bytes and len(k) == 4 for k in keys_seen)
    # 64 draws from 2**32 values collide with probability about 5e-7.
    assert len(keys_seen) > 60
    assert new_mask_key() != new_mask_key()
