"""``python -m trio_ws URL``: an interactive WebSocket client for the terminal.

Each line read from standard input is sent as a text message; each message received is
printed on standard output, ``< `` first, with control characters escaped so that a server
can never drive the terminal. Connection and close status go to standard error.

Exit status: 0 when the connection closes normally (code 1000, 1001 or no code, including
the close that end of input starts), 1 when it closes any other way or fails later, 2 for
usage errors and when the connection cannot be opened (refused, rejected, timed out, TLS),
130 when interrupted (Ctrl-C), after one line on standard error.
"""

from __future__ import annotations

import argparse
import codecs
import os
import ssl
import sys
from collections.abc import Sequence
from typing import TextIO

import trio

from ._client import open_websocket
from ._connection import WebSocketConnection
from ._exceptions import ConnectionClosed, HandshakeError, HandshakeRejected, InvalidURI

__all__ = ["escape", "format_message", "main"]

#: Bytes shown in the hex preview of a binary message.
HEX_PREVIEW = 32
#: Characters of a rejection's body shown on standard error.
BODY_PREVIEW = 500

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
#: Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130
_NORMAL_CODES = frozenset({1000, 1001, 1005})

_C0_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    r"""Make untrusted text safe to print: escape every non-printable character.

    Control characters (C0, DEL, C1), format characters such as bidirectional overrides,
    and unassigned or private code points become ``\n``, ``\xNN``, ``\uNNNN`` or
    ``\UNNNNNNNN``; printable text, including non-ASCII letters and emoji, is kept.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape_char(char) for char in text)


def _escape_char(char: str) -> str:
    if char in _C0_NAMES:
        return _C0_NAMES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def format_message(message: str | bytes) -> str:
    """Format a received message for display: ``< text`` or ``< (binary) N bytes: hex``."""
    if isinstance(message, str):
        return f"< {escape(message)}"
    preview = message[:HEX_PREVIEW].hex(" ")
    more = " ..." if len(message) > HEX_PREVIEW else ""
    return f"< (binary) {len(message)} bytes: {preview}{more}"


def _program() -> str:
    """The program's name as it was invoked: ``trio-ws``, or ``python -m trio_ws``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not invoked or invoked in ("__main__.py", "-c") or invoked.endswith(".py"):
        return "python -m trio_ws"
    return invoked


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program(),
        description=(
            "Interactive WebSocket client: sends each line of standard input as a text "
            "message and prints the messages it receives."
        ),
        epilog=(
            "Exit status: 0 after a normal close, 1 after an abnormal close or an error, "
            "2 for usage errors and failed connections."
        ),
    )
    parser.add_argument("url", metavar="URL", help="ws:// or wss:// URI to connect to")
    parser.add_argument(
        "--header",
        metavar='"NAME: VALUE"',
        action="append",
        default=[],
        help="extra header field for the handshake request (repeatable)",
    )
    parser.add_argument(
        "--subprotocol",
        metavar="NAME",
        action="append",
        default=[],
        help="subprotocol to offer, in order of preference (repeatable)",
    )
    parser.add_argument(
        "--no-compression", action="store_true", help="do not offer permessage-deflate"
    )
    parser.add_argument(
        "--cacert", metavar="FILE", help="trust the CA certificates in FILE (PEM) for wss://"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's TLS certificate (testing only)",
    )
    parser.add_argument(
        "--ping-interval",
        metavar="SECONDS",
        type=float,
        default=20.0,
        help="seconds between keepalive pings; 0 turns keepalive off (default: 20)",
    )
    return parser


def _headers(parser: argparse.ArgumentParser, values: Sequence[str]) -> list[tuple[str, str]]:
    headers = []
    for value in values:
        name, colon, field = value.partition(":")
        if not colon or not name.strip():
            parser.error(f'--header expects "Name: value", got {value!r}')
        headers.append((name.strip(), field.strip()))
    return headers


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.cacert is None and not args.insecure:
        return None
    context = ssl.create_default_context(cafile=args.cacert)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _status(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _stdin_lines(send: trio.MemorySendChannel[str]) -> None:
    """Read standard input in a thread and pass on whole lines; close ``send`` at EOF.

    Raw ``os.read`` on the file descriptor works the same for a pipe and a terminal. The
    thread is abandoned if the connection ends first: it holds no Python-level lock, so the
    interpreter can exit while it waits for input.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async with send:
        while True:
            chunk = await trio.to_thread.run_sync(
                os.read, sys.stdin.fileno(), 65536, abandon_on_cancel=True
            )
            pending += decoder.decode(chunk, final=not chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                await send.send(line.removesuffix("\r"))
            if not chunk:
                if pending:
                    await send.send(pending)
                return


async def _send_lines(ws: WebSocketConnection) -> None:
    send, receive = trio.open_memory_channel[str](0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stdin_lines, send)
        async with receive:
            async for line in receive:
                try:
                    await ws.send(line)
                except ConnectionClosed:
                    nursery.cancel_scope.cancel()
                    return
    # End of input: close normally; the receiving side sees the end and returns.
    await ws.aclose(1000)


async def _print_messages(ws: WebSocketConnection, out: TextIO) -> None:
    while True:
        try:
            message = await ws.receive()
        except ConnectionClosed:
            return
        print(format_message(message), file=out, flush=True)


async def _session(args: argparse.Namespace, headers: list[tuple[str, str]]) -> int:
    ping_interval = args.ping_interval if args.ping_interval > 0 else None
    try:
        async with open_websocket(
            args.url,
            subprotocols=args.subprotocol,
            headers=headers,
            compression=None if args.no_compression else "deflate",
            ssl_context=_ssl_context(args),
            ping_interval=ping_interval,
            ping_timeout=ping_interval,
        ) as ws:
            details = []
            if ws.subprotocol is not None:
                details.append(f"subprotocol {ws.subprotocol}")
            if ws.extensions:
                details.append("compression on")
            extra = f" ({', '.join(details)})" if details else ""
            # The prompt only for someone typing: not when input is piped or redirected.
            prompt = " Type a message and press Enter." if sys.stdin.isatty() else ""
            _status(f"Connected to {args.url}{extra}.{prompt}")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_send_lines, ws)
                await _print_messages(ws, sys.stdout)
                nursery.cancel_scope.cancel()
            end = ConnectionClosed(ws.close_received, ws.close_sent)
    except InvalidURI as exc:
        _status(f"Invalid URI: {escape(str(exc))}")
        return EXIT_USAGE
    except HandshakeRejected as exc:
        _status(f"Connection rejected: HTTP {exc.status_code}")
        if exc.body:
            body = exc.body[:BODY_PREVIEW].decode("utf-8", "replace")
            _status(escape(body.rstrip("\n")))
        return EXIT_USAGE
    except (HandshakeError, OSError, trio.BrokenResourceError) as exc:
        _status(f"Failed to connect to {args.url}: {escape(_describe(exc))}")
        return EXIT_USAGE
    reason = f", reason {escape(end.reason)!r}" if end.reason else ""
    _status(f"Connection closed: code {end.code}{reason}")
    return EXIT_OK if end.code in _NORMAL_CODES else EXIT_ERROR


def _describe(exc: BaseException) -> str:
    """Say why a connection failed, looking through trio's wrapping of the real cause."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        reasons = dict.fromkeys(str(leaf) for leaf in _leaves(cause))
        return f"{exc}: {'; '.join(reasons)}" if reasons else str(exc)
    return str(exc) or type(exc).__name__


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


def main(argv: Sequence[str] | None = None) -> int:
    """Run the interactive client; return the exit status (see the module documentation).

    Args:
        argv: The arguments, without the program name (``sys.argv[1:]`` by default).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    headers = _headers(parser, args.header)
    if args.cacert is not None and not os.path.isfile(args.cacert):
        parser.error(f"--cacert: no such file: {args.cacert}")
    if args.ping_interval < 0:
        parser.error("--ping-interval must be 0 or more")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        return trio.run(_session, args, headers)
    except BaseException as exc:
        # Ctrl-C lands in whichever task runs, and the session's nurseries wrap it in an
        # exception group: one line, not a traceback, whatever the wrapping.
        if not _only_interrupts(exc):
            raise
        _status("Interrupted.")
        return EXIT_INTERRUPTED


def _only_interrupts(exc: BaseException) -> bool:
    """Whether ``exc`` is a KeyboardInterrupt, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split(KeyboardInterrupt)
        return rest is None
    return isinstance(exc, KeyboardInterrupt)
