"""Shared hypothesis strategies for the protocol tests."""

from __future__ import annotations

from hypothesis import strategies as st

#: Text including astral code points, never lone surrogates (those cannot be UTF-8).
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
binary = st.binary(max_size=600)


@st.composite
def messages(draw: st.DrawFn, max_messages: int = 6) -> list[tuple[bool, list[str] | list[bytes]]]:
    """A list of messages, each ``(is_text, pieces)``: the message cut into fragments."""
    out: list[tuple[bool, list[str] | list[bytes]]] = []
    for _ in range(draw(st.integers(0, max_messages))):
        is_text = draw(st.booleans())
        pieces: list[str] | list[bytes]
        if is_text:
            pieces = draw(st.lists(text, min_size=1, max_size=4))
        else:
            pieces = draw(st.lists(binary, min_size=1, max_size=4))
        out.append((is_text, pieces))
    return out


@st.composite
def chunkings(draw: st.DrawFn) -> st.SearchStrategy[list[int]]:
    """Cut sizes to split a byte stream into chunks (cycled; each at least 1)."""
    return draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))  # type: ignore[no-any-return]
