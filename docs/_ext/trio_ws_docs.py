"""Sphinx helpers for the trio-ws docs.

* ``.. state-transitions::`` renders the connection state machine from
  :data:`trio_ws.protocol._state.TRANSITIONS`, the table the core itself consults, as a text
  diagram and as a table. The docs cannot drift from the code: there is nothing to update.
* A ``missing-reference`` handler resolves annotations that name a private module
  (``trio_ws.protocol._events.Request``) to the public name the reference documents
  (``trio_ws.protocol.Request``), and names re-exported by :mod:`trio_ws` (the exceptions,
  ``CloseCode``) to their documented place.
* ``trio_ws/__init__.py`` sets ``__module__ = "trio_ws"`` on the names it exports, so that
  reprs and docs say ``trio_ws.X``. autodoc then looks for ``#:`` attribute comments in
  ``trio_ws/__init__.py`` and finds none; :func:`merge_attribute_docs` adds those of the
  private modules to what autodoc's source analyzer knows about ``trio_ws``.
"""

from __future__ import annotations

import importlib
import sys
from collections import defaultdict
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

import trio_ws
import trio_ws.protocol.extensions
from trio_ws.protocol._state import TRANSITIONS, ConnectionState, Direction

ARROW = {Direction.SEND: "send", Direction.RECEIVE: "receive"}


def transition_groups() -> dict[tuple[ConnectionState, ConnectionState], list[str]]:
    """Group TRANSITIONS by (state, next state); each item is "send X" / "receive X"."""
    groups: dict[tuple[ConnectionState, ConnectionState], dict[str, set[Direction]]] = defaultdict(
        dict
    )
    for (state, direction, kind), new_state in TRANSITIONS.items():
        groups[state, new_state].setdefault(kind.__name__, set()).add(direction)
    result: dict[tuple[ConnectionState, ConnectionState], list[str]] = {}
    for key, kinds in groups.items():
        labels = []
        for name, directions in kinds.items():
            if len(directions) == 2:
                labels.append(f"{name} (either way)")
            else:
                labels.append(f"{ARROW[next(iter(directions))]} {name}")
        result[key] = labels
    return result


def text_diagram() -> str:
    """Return the state machine as lines of ``STATE --[events]--> STATE``."""
    order = list(ConnectionState)
    width = max(len(state.name) for state in order)
    lines = []
    groups = transition_groups()
    for state in order:
        targets = [(new, labels) for (old, new), labels in groups.items() if old is state]
        targets.sort(key=lambda item: (item[0] is not state, order.index(item[0])))
        if not targets:
            lines.append(f"{state.name:<{width}}   (final)")
        for index, (new, labels) in enumerate(targets):
            name = state.name if index == 0 else ""
            lines.append(f"{name:<{width}} ──▶ {new.name:<{width}}  on {', '.join(labels)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


class StateTransitions(SphinxDirective):
    """``.. state-transitions::``: the diagram, then the full table."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        lines = [".. code-block:: text", ""]
        lines += ["   " + line if line else "" for line in text_diagram().splitlines()]
        lines += ["", ".. list-table::", "   :header-rows: 1", ""]
        lines += [
            "   * - In state",
            "     - Event",
            "     - Sent or received",
            "     - Next state",
        ]
        for (state, direction, kind), new_state in TRANSITIONS.items():
            lines += [
                f"   * - ``{state.name}``",
                f"     - :class:`~trio_ws.protocol.{kind.__name__}`",
                f"     - {ARROW[direction]}",
                f"     - ``{new_state.name}``",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="trio_ws_docs"), 0, container)
        return container.children


def _public_name(target: str) -> str | None:
    """Map ``trio_ws.protocol._events.Request`` to ``trio_ws.protocol.Request`` if public."""
    if not target.startswith("trio_ws.") or "._" not in target:
        return None
    name = target.rsplit(".", 1)[-1]
    parts = target.split(".")[:-1]
    # Try the public packages from the innermost outwards: protocol.extensions, protocol, trio_ws.
    public = [p for p in parts if not p.startswith("_")]
    for depth in range(len(public), 0, -1):
        module_name = ".".join(public[:depth])
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if name in getattr(module, "__all__", ()):
            return f"{module_name}.{name}"
    return None


def _candidates(target: str) -> list[str]:
    """Public names under which ``target`` may be documented, best first."""
    candidates = []
    public = _public_name(target)
    if public is not None:
        candidates.append(public)
    for name in [target, *candidates]:
        # trio_ws re-exports the core's errors and CloseCode and documents them there.
        head, _, rest = name.removeprefix("trio_ws.protocol.").partition(".")
        if head in trio_ws.__all__:
            candidates.append(f"trio_ws.{head}" + (f".{rest}" if rest else ""))
    return candidates


def resolve_private(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """``missing-reference``: retry a Python reference under its public names."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for candidate in _candidates(node.get("reftarget", "")):
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode
        )
        if found is not None:
            return found
    return None


def merge_attribute_docs(app: Sphinx) -> None:
    """Let autodoc find the ``#:`` comments of classes re-exported as ``trio_ws.X``."""
    for name in trio_ws.__all__:  # trio_ws imports its Trio layer lazily: load it all
        getattr(trio_ws, name)
    public = ModuleAnalyzer.for_module("trio_ws")
    public.analyze()
    for module_name in sorted(sys.modules):
        if not module_name.startswith("trio_ws.") or "._" not in module_name:
            continue
        try:
            private = ModuleAnalyzer.for_module(module_name)
            private.analyze()
        except PycodeError:  # a compiled module
            continue
        for key, lines in private.attr_docs.items():
            public.attr_docs.setdefault(key, lines)
        for key, annotation in private.annotations.items():
            public.annotations.setdefault(key, annotation)
        offset = len(public.tagorder)
        for key, order in private.tagorder.items():
            public.tagorder.setdefault(key, offset + order)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("state-transitions", StateTransitions)
    app.connect("missing-reference", resolve_private)
    app.connect("builder-inited", merge_attribute_docs)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
