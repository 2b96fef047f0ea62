"""Turning an internal nursery's ExceptionGroup back into the user's own exception.

Our background tasks never raise into their nursery, so when a group comes out of one it
holds what the application's code raised. Users should see that exception as itself, not
wrapped: :func:`reraise_single` does that with public APIs only.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["reraise_single", "single_exception"]


def single_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """Return the only exception directly inside ``group``, or ``None`` if there are several.

    Only one level is unwrapped: a group is what our nursery added around the user's
    exception, and if the user's code raised a group of its own, that group is the user's
    exception and comes out whole.
    """
    if len(group.exceptions) == 1:
        return group.exceptions[0]
    return None


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
