"""The public API: every name exported once, documented, and closed to subclassing where it
should be (issue 14).

A public name is one in the ``__all__`` of a public module. Each must resolve, appear in
``__all__`` once, name one object that no other public name also names, have a docstring (and so
must every public method and property of a public class), and be the subject of an ``auto*``
directive in the docs (under any of its public names). Every public class is either
``@final`` or listed below as open to subclassing, with the reason: a new class must take a
side.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

MODULES = [
    "trio_ws",
    "trio_ws.protocol",
    "trio_ws.protocol.extensions",
    "trio_ws.testing",
    "trio_ws.compat.trio_websocket",
]
DOCS = Path(__file__).resolve().parent.parent / "docs"

#: Public classes meant to be subclassed (exceptions and enums are handled by kind).
OPEN = {
    "trio_ws.protocol.extensions.Extension": "the base class of an extension: subclass it",
    "trio_ws.protocol.Event": "the base class of the core's events",
}


def public(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__"
    return list(names)


def documented_names() -> set[str]:
    """Fully qualified names that an ``auto*`` directive in the docs documents."""
    found: set[str] = set()
    for page in sorted(DOCS.rglob("*.rst")):
        current = "trio_ws"
        for line in page.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"\.\. (?:current|auto)?module:: (\S+)", line):
                current = match.group(1)
            elif match := re.match(r"\.\. auto\w+:: ([\w.]+)", line):
                target = match.group(1)
                found.add(target if target.startswith("trio_ws.") else f"{current}.{target}")
    return found


EXPORTS = [(name, attr) for name in MODULES for attr in public(importlib.import_module(name))]


@pytest.mark.parametrize("module_name", MODULES)
def test_all_lists_each_name_once_and_each_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = public(module)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but does not resolve"


def test_each_object_has_one_public_name() -> None:
    """The same object may be re-exported under its own name (trio_ws.CloseCode is
    trio_ws.protocol.CloseCode), never under two different names."""
    names: dict[int, set[str]] = {}
    for module_name, attr in EXPORTS:
        obj = getattr(importlib.import_module(module_name), attr)
        if isinstance(obj, str | int | float) or obj is None:
            continue  # constants (compat's CONN_TIMEOUT...) may share a value
        names.setdefault(id(obj), set()).add(attr)
    assert [sorted(n) for n in names.values() if len(n) > 1] == []


@pytest.mark.parametrize(("module_name", "attr"), EXPORTS, ids=[f"{m}.{a}" for m, a in EXPORTS])
def test_public_name_is_documented(module_name: str, attr: str) -> None:
    obj = getattr(importlib.import_module(module_name), attr)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert inspect.getdoc(obj), f"{module_name}.{attr} has no docstring"
    if attr == "__version__":
        return
    # A re-exported object is documented once, under any of its public names.
    names = {f"{m}.{a}" for m, a in EXPORTS if getattr(importlib.import_module(m), a) is obj}
    assert names & documented_names(), f"{module_name}.{attr} has no auto* directive in docs/"


@pytest.mark.parametrize(("module_name", "attr"), EXPORTS, ids=[f"{m}.{a}" for m, a in EXPORTS])
def test_public_methods_and_properties_have_docstrings(module_name: str, attr: str) -> None:
    cls = getattr(importlib.import_module(module_name), attr)
    if not inspect.isclass(cls) or issubclass(cls, BaseException | enum.Enum):
        return
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | staticmethod | classmethod) or inspect.isfunction(member):
            function = member.fget if isinstance(member, property) else member
            if not inspect.getdoc(function):
                missing.append(name)
    assert missing == [], f"{module_name}.{attr}: no docstring on {missing}"


@pytest.mark.parametrize(("module_name", "attr"), EXPORTS, ids=[f"{m}.{a}" for m, a in EXPORTS])
def test_public_class_is_final_unless_meant_to_be_subclassed(module_name: str, attr: str) -> None:
    cls = getattr(importlib.import_module(module_name), attr)
    if not inspect.isclass(cls) or issubclass(cls, BaseException | enum.Enum):
        return
    qualified = f"{module_name}.{attr}"
    if qualified in OPEN:
        assert not getattr(cls, "__final__", False), f"{qualified} is listed as open"
        return
    assert getattr(cls, "__final__", False), f"{qualified}: mark it @final, or list it in OPEN"


@pytest.mark.parametrize(
    "function", ["open_websocket", "reconnecting", "serve", "serve_unix"], ids=str
)
def test_option_keywords_default_to_the_options_defaults(function: str) -> None:
    """The functions that take Options' fields as keywords default them as Options does
    (both refer to the constants in trio_ws._options)."""
    import dataclasses

    import trio_ws

    defaults = {f.name: f.default for f in dataclasses.fields(trio_ws.Options)}
    parameters = inspect.signature(getattr(trio_ws, function)).parameters
    shared = [name for name in defaults if name in parameters]
    assert len(shared) >= 7, shared
    assert {name: parameters[name].default for name in shared} == {
        name: defaults[name] for name in shared
    }
