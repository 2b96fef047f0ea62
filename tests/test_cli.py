"""``python -m trio_ws``: run as a subprocess against an in-test server."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

import trio_ws
from trio_ws import WebSocketRequest
from trio_ws._cli import escape, format_message

pytestmark = pytest.mark.network

HOST = "127.0.0.1"
Handler = Callable[[WebSocketRequest], Awaitable[Any]]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


@asynccontextmanager
async def server(handler: Handler, **kwargs: Any) -> AsyncIterator[trio_ws.Server]:
    async with trio.open_nursery() as nursery:
        running = await nursery.start(
            lambda task_status: trio_ws.serve(
                handler, HOST, 0, ping_interval=None, task_status=task_status, **kwargs
            )
        )
        yield running
        nursery.cancel_scope.cancel()


async def run_cli(args: Sequence[str], stdin: bytes | None = b"", typed: bytes = b"") -> Result:
    """Run the CLI with ``stdin`` as its input.

    With ``stdin=None`` its standard input stays open (no end of input) until it exits;
    ``typed`` is written to it first.
    """
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-m", "trio_ws", *args]
    if stdin is not None:
        done = await trio.run_process(
            command, stdin=stdin, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    else:
        read_end, write_end = os.pipe()
        os.write(write_end, typed)
        try:
            done = await trio.run_process(
                command,
                stdin=read_end,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=env,
            )
        finally:
            os.close(read_end)
            os.close(write_end)
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())


async def test_lines_are_sent_and_messages_printed() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            await ws.send(message)
            if message == "last":
                await ws.aclose(1000)

    typed = "hello\nhéllo 🎉\r\nlast\n".encode()
    with trio.fail_after(20):
        async with server(handler) as s:
            url = f"ws://{HOST}:{s.port}/"
            result = await run_cli([url], stdin=None, typed=typed)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "< hello\n< héllo 🎉\n< last\n"
    assert f"Connected to {url}" in result.stderr
    assert "Connection closed: code 1000" in result.stderr


async def test_end_of_input_closes_normally() -> None:
    received = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            received.append(message)
        assert ws.close_code == 1000

    with trio.fail_after(20):
        async with server(handler) as s:
            result = await run_cli([f"ws://{HOST}:{s.port}/"], b"one\ntwo without newline")
    assert result.returncode == 0, result.stderr
    assert received == ["one", "two without newline"]
    assert result.stdout == ""
    assert "Connection closed: code 1000" in result.stderr


async def test_control_characters_received_are_escaped() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        assert await ws.receive() == "start"
        await ws.send("red \x1b[31malert\x07 rtl\u202eevil tab\tnl\ndel\x7f c1\x9b ok é")
        await ws.send(bytes(range(40)))
        await ws.send(b"\x1b[2J")
        await ws.aclose(1001, "bye\x1b")

    with trio.fail_after(20):
        async with server(handler) as s:
            result = await run_cli([f"ws://{HOST}:{s.port}/"], stdin=None, typed=b"start\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "< red \\x1b[31malert\\x07 rtl\\u202eevil tab\\tnl\\ndel\\x7f c1\\x9b ok é"
    )
    assert lines[1] == "< (binary) 40 bytes: " + bytes(range(32)).hex(" ") + " ..."
    assert lines[2] == "< (binary) 4 bytes: 1b 5b 32 4a"
    assert len(lines) == 3
    for stream in (result.stdout, result.stderr):
        assert not any(c in stream for c in "\x1b\x07\x7f\x9b\u202e")
    assert "Connection closed: code 1001, reason 'bye\\\\x1b'" in result.stderr


async def test_abnormal_close_exits_1() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        assert await ws.receive() == "start"
        await ws.send("going down")
        await ws.aclose(1011, "boom")

    with trio.fail_after(20):
        async with server(handler) as s:
            result = await run_cli([f"ws://{HOST}:{s.port}/"], stdin=None, typed=b"start\n")
    assert result.returncode == 1
    assert result.stdout == "< going down\n"
    assert "Connection closed: code 1011, reason 'boom'" in result.stderr


async def test_rejected_handshake_exits_2_with_the_status() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(403, body="no entry\x1b[0m\n")

    with trio.fail_after(20):
        async with server(handler) as s:
            result = await run_cli([f"ws://{HOST}:{s.port}/"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Connection rejected: HTTP 403" in result.stderr
    assert "no entry\\x1b[0m" in result.stderr
    assert "\x1b" not in result.stderr


async def test_headers_subprotocols_and_no_compression_reach_the_server() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept(subprotocol=request.subprotocols[-1])
        assert await ws.receive() == "start"
        await ws.send(
            f"token={request.header('x-token')} offered={','.join(request.subprotocols)}"
        )
        await ws.send(f"extensions={len(ws.extensions)}")

    with trio.fail_after(20):
        async with server(handler) as s:
            result = await run_cli(
                [
                    f"ws://{HOST}:{s.port}/",
                    "--header",
                    "X-Token: s3cret",
                    "--subprotocol",
                    "one",
                    "--subprotocol",
                    "two",
                    "--no-compression",
                    "--ping-interval",
                    "0",
                ],
                stdin=None,
                typed=b"start\n",
            )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "< token=s3cret offered=one,two\n< extensions=0\n"
    assert "subprotocol two" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--header", "no-colon", "ws://x/"], 'expects "Name: value"'),
        (["--ping-interval", "-1", "ws://x/"], "must be 0 or more"),
        (["--cacert", "/nonexistent.pem", "wss://x/"], "no such file"),
        ([], "required: URL"),
        (["http://example.com/"], "Invalid URI"),
    ],
)
async def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    with trio.fail_after(20):
        result = await run_cli(args)
    assert result.returncode == 2
    assert message in result.stderr


async def test_connection_refused_exits_2() -> None:
    listeners = await trio.open_tcp_listeners(0, host=HOST)
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    with trio.fail_after(20):
        result = await run_cli([f"ws://{HOST}:{port}/"])
    assert result.returncode == 2
    assert f"Failed to connect to ws://{HOST}:{port}/" in result.stderr
    assert "refused" in result.stderr.lower()


async def test_tls_with_cacert_and_insecure(tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", HOST).configure_cert(context)
    cacert = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cacert))
    with trio.fail_after(30):
        async with server(echo, ssl_context=context) as s:
            url = f"wss://localhost:{s.port}/"
            trusted = await run_cli([url, "--cacert", str(cacert)], b"over tls\n")
            insecure = await run_cli([url, "--insecure"], b"unverified\n")
            untrusted = await run_cli([url], b"nope\n")
    assert (trusted.returncode, trusted.stdout) == (0, "< over tls\n"), trusted.stderr
    assert (insecure.returncode, insecure.stdout) == (0, "< unverified\n"), insecure.stderr
    assert untrusted.returncode == 2
    assert "certificate verify failed" in untrusted.stderr


def test_escape_and_format() -> None:
    assert escape("plain é 🎉") == "plain é 🎉"
    assert escape("a\x00b\r\n\U000e0001") == "a\\x00b\\r\\n\\U000e0001"
    assert format_message("x\x1b") == "< x\\x1b"
    assert format_message(b"") == "< (binary) 0 bytes: "


async def test_ctrl_c_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    """SIGINT while connected: one line on stderr, no (exception group) traceback, 130."""
    connected = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        connected.set()
        async for message in ws:
            await ws.send(message)

    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    with trio.fail_after(30):  # a hang only
        async with server(handler) as s:
            read_end, write_end = os.pipe()  # stdin stays open: the session waits for input
            errors = (tmp_path / "stderr").open("wb")
            try:
                async with trio.open_nursery() as nursery:
                    process = await nursery.start(
                        partial(
                            trio.run_process,
                            [sys.executable, "-m", "trio_ws", f"ws://{HOST}:{s.port}/"],
                            stdin=read_end,
                            stdout=subprocess.DEVNULL,
                            stderr=errors,
                            check=False,
                            env=env,
                        )
                    )
                    await connected.wait()
                    await trio.sleep(0.5)  # into its session, waiting for input and messages
                    process.send_signal(signal.SIGINT)
            finally:
                os.close(read_end)
                os.close(write_end)
                errors.close()
    stderr = (tmp_path / "stderr").read_text(encoding="utf-8")
    assert process.returncode == 130, stderr
    assert stderr.rstrip().endswith("Interrupted."), stderr
    assert "Traceback" not in stderr and "ExceptionGroup" not in stderr, stderr


async def test_piped_input_gets_no_typing_prompt() -> None:
    with trio.fail_after(20):
        async with server(echo) as s:
            result = await run_cli([f"ws://{HOST}:{s.port}/"], stdin=b"hello\n")
    assert f"Connected to ws://{HOST}:{s.port}/" in result.stderr
    assert "Type a message" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("argv0", "program"),
    [("/usr/local/bin/trio-ws", "trio-ws"), ("/x/trio_ws/__main__.py", "python -m trio_ws")],
)
def test_usage_names_the_program_as_invoked(
    argv0: str, program: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trio_ws import _cli

    monkeypatch.setattr(sys, "argv", [argv0])
    with pytest.raises(SystemExit):
        _cli.main([])  # no URL: a usage error
    assert capsys.readouterr().err.startswith(f"usage: {program} "), program
