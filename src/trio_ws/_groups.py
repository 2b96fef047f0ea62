"""Turning an internal nursery's ExceptionGroup back into the user's own exception.

Our background tasks never raise into their nursery, so when a group comes out of one it
holds what the application's code raised. Users should see that exception as itself, not
wrapped: :func:`reraise_single` does that with public APIs only.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["reraise_single", "single_exception"]


def single_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """Return the only leaf exception of ``group`` (through nested groups), or ``None``."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
            if len(leaves) > 1:
                return None
    return leaves[0] if leaves else None


def reraise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the only exception inside ``group`` as itself, or ``group`` if there are several.

    The unwrapped exception keeps its own traceback, cause and context: the group does not
    become its ``__context__``.
    """
    exc = single_exception(group)
    if exc is None:
        raise group
    context = exc.__context__
    suppress = exc.__suppress_context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        exc.__suppress_context__ = suppress
        del exc, group
