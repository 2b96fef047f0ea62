"""Router: dispatch requests to handlers by path, with parameters taken from the path."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, final
from urllib.parse import unquote

from ._request import WebSocketRequest

__all__ = ["RouteHandler", "Router"]

#: A route's handler: ``async def handler(request, **params)``.
RouteHandler = Callable[..., Awaitable[Any]]

_PARAMETER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Segment kinds, most specific first: they order the routes tried for a path.
_STATIC, _SEGMENT, _REST = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Route:
    pattern: str
    regex: re.Pattern[str]
    rank: tuple[int, ...]
    order: int
    handler: RouteHandler
    segment_params: tuple[str, ...] = ()  # parameters that match one segment


@final
class Router:
    """Send each request to the handler whose path pattern matches; 404 otherwise.

    A router is itself a handler, so it goes straight to :func:`~trio_ws.serve`::

        router = trio_ws.Router()
        router.add("/rooms/{name}", room)
        await trio_ws.serve(router, "127.0.0.1", 8765)

    Patterns are paths made of ``/``-separated segments:

    * ``/health``: static text, matched exactly (no trailing-slash guessing: ``/health/``
      is another path).
    * ``/rooms/{name}``: ``{name}`` matches one non-empty segment, with no ``/`` in it (an
      encoded ``%2F`` does not match either, so a parameter never smuggles a path). A
      parameter can share a segment with text, as in ``/files/{stem}.txt``.
    * ``/static/{rest:path}``: ``{rest:path}`` matches the rest of the path, slashes and all
      (possibly nothing); only at the end of a pattern.

    The handler is called as ``await handler(request, **params)`` with the parameters
    percent-decoded (``/rooms/a%20b`` gives ``name="a b"``). The query string is not part
    of the match; it stays in :attr:`~trio_ws.WebSocketRequest.query`.

    When several patterns match, the most specific wins: patterns are compared segment by
    segment from the left, where static text beats a parameter, which beats a ``path``
    parameter; between equally specific patterns, the one added first wins. So
    ``/rooms/lobby`` takes precedence over ``/rooms/{name}`` whatever the order they were
    added in.

    Plain HTTP requests are routed the same way (a handler can check
    :attr:`~trio_ws.WebSocketRequest.is_websocket` and :meth:`~trio_ws.WebSocketRequest.respond`).
    A path that no pattern matches gets ``404 Not Found``, for WebSocket handshakes and
    plain requests alike.

    Args:
        routes: Initial ``pattern -> handler`` routes, as a mapping or as pairs.
    """

    def __init__(
        self,
        routes: Mapping[str, Callable[..., Awaitable[Any]]]
        | Iterable[tuple[str, Callable[..., Awaitable[Any]]]] = (),
    ) -> None:
        self._routes: list[_Route] = []
        self._static: dict[str, _Route] = {}
        pairs = routes.items() if isinstance(routes, Mapping) else routes
        for pattern, handler in pairs:
            self.add(pattern, handler)

    def __repr__(self) -> str:
        return f"<Router {[route.pattern for route in self._routes]!r}>"

    @property
    def patterns(self) -> list[str]:
        """The patterns, in the order they were added."""
        return [route.pattern for route in sorted(self._routes, key=lambda r: r.order)]

    def add(self, pattern: str, handler: Callable[..., Awaitable[Any]]) -> None:
        """Route requests whose path matches ``pattern`` to ``handler``.

        Args:
            pattern: A path pattern starting with ``/`` (see the class documentation).
            handler: ``async def handler(request, **params)``.

        Raises:
            ValueError: a malformed pattern, or one already routed.
        """
        if not pattern.startswith("/"):
            raise ValueError(f"a route pattern starts with '/': {pattern!r}")
        if any(route.pattern == pattern for route in self._routes):
            raise ValueError(f"the pattern {pattern!r} is already routed")
        regex, rank = _compile(pattern)
        segment_params = tuple(
            name for name in regex.groupindex if f"(?P<{name}>[^/]+)" in regex.pattern
        )
        route = _Route(pattern, regex, rank, len(self._routes), handler, segment_params)
        self._routes.append(route)
        self._routes.sort(key=lambda r: (r.rank, r.order))
        if all(kind == _STATIC for kind in rank):
            self._static[pattern] = route

    def route(
        self, pattern: str
    ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        """Decorator form of :meth:`add`.

        ::

            @router.route("/rooms/{name}")
            async def room(request, name): ...
        """

        def decorate(handler: RouteHandler) -> RouteHandler:
            self.add(pattern, handler)
            return handler

        return decorate

    def match(self, path: str) -> tuple[Callable[..., Awaitable[Any]], dict[str, str]] | None:
        """Find the handler for ``path`` and the parameters taken from it.

        Args:
            path: A request path (without the query string), percent-encoded as sent.

        Returns:
            ``(handler, params)``, or ``None`` if no pattern matches.
        """
        route = self._static.get(path)
        if route is not None:
            return route.handler, {}
        for route in self._routes:
            found = route.regex.fullmatch(path)
            if found is not None:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                # A one-segment parameter never holds a "/", even percent-encoded: "%2F.."
                # must not turn /rooms/{name} into a way to reach "../../etc".
                if any("/" in params[name] for name in route.segment_params):
                    continue
                return route.handler, params
        return None

    async def __call__(self, request: WebSocketRequest) -> None:
        """Handle ``request``: call the matching route's handler, or answer 404."""
        found = self.match(request.path)
        if found is None:
            await request.reject(404, body="Not Found\n")
            return
        handler, params = found
        await handler(request, **params)


def _compile(pattern: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    """Turn a pattern into a regex and its rank (one segment kind per segment)."""
    regex = []
    names: set[str] = set()
    position = 0
    for found in _PARAMETER.finditer(pattern):
        regex.append(_static(pattern, pattern[position : found.start()]))
        name, _, kind = found.group(1).partition(":")
        if not _NAME.match(name):
            raise ValueError(f"bad parameter name {name!r} in {pattern!r}")
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
        names.add(name)
        if kind == "":
            regex.append(f"(?P<{name}>[^/]+)")
        elif kind == "path":
            if found.end() != len(pattern):
                raise ValueError(f"a {{{name}:path}} parameter must end the pattern {pattern!r}")
            regex.append(f"(?P<{name}>.*)")
        else:
            raise ValueError(f"unknown parameter kind {kind!r} in {pattern!r} (only 'path')")
        position = found.end()
    regex.append(_static(pattern, pattern[position:]))
    rank = []
    for segment in pattern[1:].split("/"):
        if ":path}" in segment:
            rank.append(_REST)
        elif "{" in segment:
            rank.append(_SEGMENT)
        else:
            rank.append(_STATIC)
    return re.compile("".join(regex)), tuple(rank)


def _static(pattern: str, text: str) -> str:
    if "{" in text or "}" in text:
        raise ValueError(f"unbalanced braces in {pattern!r}")
    return re.escape(text)
