"""Shared machinery for interop tests: peer processes and our server."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path

import trio

import trio_ws

PEERS = Path(__file__).parent / "peers"
MiB = 2**20


def far_matches(seed: int = 0) -> bytes:
    """Repeats 3000 bytes apart only: a peer that deflates with a bigger window than
    negotiated produces back-references a correctly sized inflater rejects."""
    return random.Random(seed).randbytes(3000) * 3


def payload(size: int, kind: str) -> str | bytes:
    """A text (multi-byte UTF-8) or binary (random) message of about ``size`` bytes."""
    if kind == "text":
        return ("héllo wörld ✓ " * (size // 10 + 1)).encode()[:size].decode("utf-8", "ignore")
    return random.Random(size).randbytes(size)


@contextmanager
def peer_servers(
    command: Sequence[str], env: dict[str, str] | None = None
) -> Iterator[Callable[..., int]]:
    """Start peer servers on demand (one per set of flags); they print ``PORT <n>``.

    Yields a function of the flags that returns the port. Every process is killed on exit.
    """
    procs: dict[tuple[str, ...], tuple[subprocess.Popen[bytes], int]] = {}

    def stop(proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()

    def start(*flags: str) -> int:
        if flags not in procs:
            proc = subprocess.Popen(
                [*command, "server", *flags], stdout=subprocess.PIPE, env=env or os.environ
            )
            try:
                assert proc.stdout is not None
                ready, _, _ = select.select([proc.stdout], [], [], 15)
                if not ready:
                    raise RuntimeError(f"{command} did not start within 15 s")
                line = proc.stdout.readline().decode()
                if not line.startswith("PORT "):
                    raise RuntimeError(f"unexpected output from {command}: {line!r}")
                procs[flags] = (proc, int(line.split()[1]))
            except BaseException:
                stop(proc)
                raise
        return procs[flags][1]

    try:
        yield start
    finally:
        for proc, _ in procs.values():
            stop(proc)


def open_ours(port: int, path: str, **kwargs: object) -> object:
    """Our client on 127.0.0.1: no keepalive, messages up to 64 MiB."""
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 2)
    kwargs.setdefault("max_message_size", 64 * MiB)
    return trio_ws.open_websocket(f"ws://127.0.0.1:{port}{path}", **kwargs)  # type: ignore[arg-type]


async def their_close_record(port: int, path: str) -> list[object] | None:
    """Ask a peer server how the last connection on ``path`` ended: [code, reason]."""
    with trio.fail_after(5):
        while True:
            async with open_ours(port, "/query", compression=None) as ws:  # type: ignore[attr-defined]
                await ws.send(f"!closed {path}")
                record = json.loads(await ws.receive())
            if record is not None:
                return record  # type: ignore[no-any-return]
            await trio.sleep(0.02)  # their handler records the close just after it happened


@asynccontextmanager
async def our_server(
    handler: Callable[..., Awaitable[None]], **kwargs: object
) -> AsyncIterator[int]:
    """Run our server on a free port of 127.0.0.1; yield the port."""
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 2)
    kwargs.setdefault("max_message_size", 64 * MiB)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(trio_ws.serve, handler, "127.0.0.1", 0, **kwargs))
        try:
            yield server.port
        finally:
            # aclose() first: cancelling serve() alone leaves its listening socket open
            # (see test_regressions.py).
            with trio.move_on_after(2) as scope:
                scope.shield = True
                await server.aclose()
            nursery.cancel_scope.cancel()


async def run_their_client(
    command: Sequence[str],
    scenario: Callable[[trio_ws.WebSocketConnection], Awaitable[None]],
    *flags: str,
    env: dict[str, str] | None = None,
    **server_kwargs: object,
) -> tuple[str, tuple[int, str]]:
    """Serve ``scenario`` to one peer client process.

    The client prints ``EXTENSIONS <data>`` once open and ``CLOSED <code> <reason>`` at the
    end. Returns both. The process is killed if the surrounding deadline expires.
    """
    errors: list[BaseException] = []

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await scenario(ws)
        except BaseException as exc:
            errors.append(exc)
            raise

    async with our_server(handler, **server_kwargs) as port:
        url = f"ws://127.0.0.1:{port}/scenario"
        result = await trio.run_process(
            [*command, "client", url, *flags],
            capture_stdout=True,
            check=False,
            env=env or os.environ,
        )
    if errors:
        raise errors[0]
    lines = result.stdout.decode().splitlines()
    assert result.returncode == 0, lines
    assert lines, "the peer client printed nothing"
    extensions = lines[0].removeprefix("EXTENSIONS ")
    _, code, reason = (lines[-1] + " ").split(" ", 2)
    return extensions, (int(code), reason[:-1])
