"""Memory per message does not grow with the number of fragments (issue 15, item 3).

``receive()`` assembles a message's pieces in an :class:`~trio_ws._assembly.Assembler`: a few
pieces as they are, then one growing buffer. Whatever the fragmentation, the peak of Python
allocations while a message of N bytes (or characters) is assembled and taken stays under a
small multiple of N plus a constant. Keeping every piece in a list and joining at the end, as
the connection did before, costs about 40 bytes per fragment: the last test shows this bound
catches it.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ws._assembly import Assembler

#: The gathered message, and its copy when it is taken, with room for growth.
BOUND = {bytes: 3, str: 3}
SLACK = 64 * 1024


def peak_while_assembling(
    assembler_factory: Callable[[], object], kind: type, total: int, sizes: list[int]
) -> int:
    """Peak traced memory while ``total`` units arrive in pieces cycling through ``sizes``."""
    unit = "x" if kind is str else b"x"
    warm = assembler_factory()  # first-use allocations (caches, buffers) are not the message's
    for _ in range(20):
        warm.add(unit)  # type: ignore[attr-defined]
    warm.take()  # type: ignore[attr-defined]
    assembler = assembler_factory()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        left = total
        for size in itertools.cycle(sizes):
            if left <= 0:
                break
            size = min(size, left)
            assembler.add(unit * size)  # type: ignore[attr-defined]
            left -= size
        message = assembler.take()  # type: ignore[attr-defined]
        assert len(message) == total
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


@settings(max_examples=max(20, settings().max_examples // 4), deadline=None)
@given(
    kind=st.sampled_from([bytes, str]),
    total=st.integers(1, 200_000),
    sizes=st.lists(st.integers(1, 70_000), min_size=1, max_size=8)
    | st.just([1])
    | st.lists(st.integers(1, 4), min_size=1, max_size=4),
)
def test_any_fragmentation_keeps_peak_memory_bounded(
    kind: type, total: int, sizes: list[int]
) -> None:
    peak = peak_while_assembling(Assembler, kind, total, sizes)
    assert peak <= BOUND[kind] * total + SLACK, (peak, total, sizes[:8])


class ListAssembler:
    """Every piece kept in a list, joined at the end: what the bound is there to catch."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def add(self, data: bytes) -> None:
        self.parts.append(data)

    def take(self) -> bytes:
        return b"".join(self.parts)


def test_the_bound_catches_a_piece_per_fragment() -> None:
    total = 100_000
    peak = peak_while_assembling(ListAssembler, bytes, total, [1])
    assert peak > BOUND[bytes] * total + SLACK  # about 40 bytes per 1-byte fragment
