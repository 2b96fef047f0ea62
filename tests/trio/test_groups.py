"""The helper that unwraps our internal nurseries' exception groups."""

from __future__ import annotations

import pytest

from trio_ws._groups import reraise_single, single_exception


def test_single_exception_unwraps_one_level_only() -> None:
    inner = ValueError("x")
    users_group = ExceptionGroup("inner", [inner])
    assert single_exception(ExceptionGroup("ours", [users_group])) is users_group
    assert single_exception(ExceptionGroup("ours", [inner])) is inner


def test_several_or_none() -> None:
    assert single_exception(ExceptionGroup("g", [ValueError(), KeyError()])) is None


def test_reraise_single_keeps_cause_context_and_traceback() -> None:
    try:
        try:
            raise KeyError("context")
        except KeyError:
            raise ValueError("boom") from OSError("cause")
    except ValueError as exc:
        original = exc
    tb = original.__traceback__
    with pytest.raises(ValueError, match=r"^boom$") as info:
        reraise_single(ExceptionGroup("g", [original]))
    assert info.value is original
    assert isinstance(original.__cause__, OSError)
    assert isinstance(original.__context__, KeyError)
    assert original.__suppress_context__
    assert tb is not None


def test_reraise_several_raises_the_group() -> None:
    group = ExceptionGroup("g", [ValueError(), KeyError()])
    with pytest.raises(ExceptionGroup) as info:
        reraise_single(group)
    assert info.value is group
