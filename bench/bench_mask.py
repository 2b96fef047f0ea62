"""Benchmark WebSocket masking: pure Python vs the C accelerator.

Run with ``uv run python bench/bench_mask.py``. Prints the median of several rounds: MiB/s for
a 1 MiB payload, operations per second for 32 B and 1 KiB payloads.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from trio_ws.protocol._mask import HAS_SPEEDUPS, mask, mask_python

ROUNDS = 7
ROUND_SECONDS = 0.2
MiB = 2**20

MaskFn = Callable[[bytes | bytearray | memoryview, bytes], bytes]


def per_call_seconds(fn: MaskFn, data: bytes, key: bytes) -> float:
    """Median over ROUNDS of the mean time of one call, each round lasting ~ROUND_SECONDS."""
    # Calibrate the number of calls per round so that timer resolution does not matter.
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn(data, key)
        elapsed = time.perf_counter() - start
        if elapsed >= ROUND_SECONDS / 10:
            break
        number *= 2
    number = max(1, int(number * ROUND_SECONDS / elapsed))
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(number):
            fn(data, key)
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def main() -> None:
    impls: list[tuple[str, MaskFn]] = [("mask_python", mask_python)]
    if HAS_SPEEDUPS:
        impls.append(("C _speedups.mask", mask))
    else:
        print("note: trio_ws.protocol._speedups is not built; only the pure Python path runs")
    print(f"Python {sys.version.split()[0]}, median of {ROUNDS} rounds of ~{ROUND_SECONDS}s")

    key = os.urandom(4)
    big = os.urandom(MiB)
    small = {32: os.urandom(32), 1024: os.urandom(1024)}
    results: dict[str, float] = {}
    for name, fn in impls:
        assert fn(big, key) == mask_python(big, key)
        seconds = per_call_seconds(fn, big, key)
        results[name] = 1 / seconds  # MiB/s, since the payload is exactly 1 MiB
        line = f"{name:>18}: 1 MiB {results[name]:10.0f} MiB/s"
        for size, data in small.items():
            line += f" | {size:>4} B {1 / per_call_seconds(fn, data, key):12,.0f} ops/s"
        print(line)
    if len(results) == 2:
        speedup = results["C _speedups.mask"] / results["mask_python"]
        print(f"{'C / Python':>18}: {speedup:.1f}x at 1 MiB")


if __name__ == "__main__":
    main()
