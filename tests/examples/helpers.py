"""Helpers for the examples' tests: run an example as a process, load one as a module, GET."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import trio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

_LISTENING = re.compile(rb"listening on \w+://[^\s]+:(\d+)")


def example_command(script: str, *args: str) -> list[str]:
    """The command line that runs ``examples/<script>`` with this interpreter."""
    return [sys.executable, str(EXAMPLES / script), *args]


def example_env() -> dict[str, str]:
    """The environment for example processes: output unbuffered."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@asynccontextmanager
async def running_example(script: str, *args: str) -> AsyncIterator[int]:
    """Start a server example, wait for its ``listening on ...:PORT`` line, yield the port.

    The process is terminated (then killed) when the block ends.
    """
    async with running_example_process(script, *args) as (_, port):
        yield port


@asynccontextmanager
async def running_example_process(
    script: str, *args: str
) -> AsyncIterator[tuple[trio.Process, int]]:
    """As :func:`running_example`, yielding the process too (to signal it)."""
    process = await trio.lowlevel.open_process(
        example_command(script, *args),
        stdout=subprocess.PIPE,
        stderr=None,  # shown by pytest on failure
        env=example_env(),
    )
    try:
        assert process.stdout is not None
        output = b""
        while (match := _LISTENING.search(output)) is None:
            chunk = await process.stdout.receive_some()
            if not chunk:
                raise AssertionError(f"{script} exited before listening: {output!r}")
            output += chunk
        yield process, int(match.group(1))
    finally:
        with trio.CancelScope(shield=True):
            process.terminate()
            with trio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()


def load_example(relative_path: str, module_name: str) -> ModuleType:
    """Import ``examples/<relative_path>`` as ``module_name`` (its siblings importable)."""
    path = EXAMPLES / relative_path
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


async def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP/1.1 GET over a raw TCP connection: (status, headers, body)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        await stream.send_all(request.encode())
        response = b""
        while chunk := await stream.receive_some():
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
