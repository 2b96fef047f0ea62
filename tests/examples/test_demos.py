"""examples/keepalive.py and examples/compression.py, run as processes."""

from __future__ import annotations

import re

import pytest
import trio

from .helpers import example_command, example_env

pytestmark = pytest.mark.network


async def run_example(script: str, *args: str) -> str:
    result = await trio.run_process(
        example_command(script, *args), capture_stdout=True, env=example_env()
    )
    return result.stdout.decode()


async def test_keepalive_prints_round_trip_times() -> None:
    with trio.fail_after(20):
        output = await run_example("keepalive.py", "--interval", "0.15", "--count", "3")
    lines = output.splitlines()
    assert len(lines) == 4, output
    samples = [re.fullmatch(r"keepalive \d: last rtt (.*)", line) for line in lines[:3]]
    assert all(samples), output
    rtts = [match.group(1) for match in samples if match]
    assert all(rtt == "no pong yet" or re.fullmatch(r"[\d.]+ ms", rtt) for rtt in rtts), output
    assert re.fullmatch(r"[\d.]+ ms", rtts[-1]), output  # keepalive pings were answered
    assert re.fullmatch(r"explicit ping: rtt [\d.]+ ms", lines[3]), output


async def test_compression_shrinks_json_on_the_wire() -> None:
    with trio.fail_after(20):
        output = await run_example("compression.py", "--messages", "5", "--records", "50")
    sizes = {}
    for line in output.splitlines():
        match = re.fullmatch(
            r"\s*(.+): 5 messages, (\d+) payload bytes, (\d+) wire bytes \(ratio [\d.]+\)", line
        )
        assert match, line
        sizes[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    payload, deflated = sizes["permessage-deflate"]
    assert sizes["no compression"][0] == payload
    assert payload < sizes["no compression"][1]  # frame headers on top of the payload
    assert deflated < payload / 3
