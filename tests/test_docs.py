"""The documentation: it builds without a warning, its tables match the code, its code runs."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import trio_ws
from trio_ws.protocol import Limits
from trio_ws.protocol.extensions import PerMessageDeflate

DOCS = Path(__file__).resolve().parent.parent / "docs"
CODE = DOCS / "tutorials" / "code"
SPHINX = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-E", "-b", "html"]
EXAMPLES = sorted(p for p in CODE.glob("*.py") if not p.name.startswith("test_"))


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SPHINX, str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- The defaults table ----------------------------------------------------------------------


def defaults_table() -> dict[str, object]:
    """Parse docs/reference/defaults.rst: ``Class.field`` -> the literal in its Default cell."""
    text = (DOCS / "reference" / "defaults.rst").read_text()
    rows = re.findall(r"^   \* - ``(\w+\.\w+)``\n     - ``([^`]+)``", text, re.MULTILINE)
    table: dict[str, object] = {}
    for name, literal in rows:
        assert name not in table, f"{name} appears twice"
        table[name] = ast.literal_eval(literal)
    return table


def expected_defaults() -> dict[str, object]:
    expected: dict[str, object] = {}
    for cls in (trio_ws.Options, Limits):
        for field in dataclasses.fields(cls):
            expected[f"{cls.__name__}.{field.name}"] = field.default
    for name, parameter in inspect.signature(PerMessageDeflate).parameters.items():
        expected[f"PerMessageDeflate.{name}"] = parameter.default
    return expected


def test_defaults_table_matches_the_code() -> None:
    table = defaults_table()
    expected = expected_defaults()
    assert sorted(set(expected) - set(table)) == [], "settings missing from the table"
    assert sorted(set(table) - set(expected)) == [], "rows for settings that do not exist"
    wrong = {
        name: (table[name], value) for name, value in expected.items() if table[name] != value
    }
    assert wrong == {}, "(documented, actual) defaults differ"
    # Matching types too: 20 is not 20.0 in the docs' eyes.
    assert {n: type(v) for n, v in table.items()} == {n: type(v) for n, v in expected.items()}


@pytest.mark.parametrize("function", [trio_ws.open_websocket, trio_ws.serve])
def test_keyword_defaults_match_options(function: object) -> None:
    """The keyword arguments of open_websocket() and serve() default to Options()."""
    options = trio_ws.Options()
    parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
    shared = [f.name for f in dataclasses.fields(options) if f.name in parameters]
    assert len(shared) == 8
    for name in shared:
        assert parameters[name].default == getattr(options, name), name


# --- The code the docs include -----------------------------------------------------------------


def load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"docs_code_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def code_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The files import each other (``from echo import echo``), as they do when run as scripts.
    monkeypatch.syspath_prepend(str(CODE))


@pytest.mark.network
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
async def test_docs_code_runs(
    path: Path, code_on_path: None, caplog: pytest.LogCaptureFixture
) -> None:
    module = load(path)
    demo = getattr(module, "demo", None)
    assert demo is not None, f"{path.name} needs an async demo() for the tests to run"
    with caplog.at_level(logging.ERROR, logger="trio_ws"), trio.fail_after(30):
        await demo()
    # A handler that raised (the tutorial's chat after "bye", say) is logged, not raised.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors


@pytest.mark.slow
def test_testing_tutorial_passes() -> None:
    """docs/tutorials/code/test_app_example.py is outside testpaths: run it with pytest."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(CODE / "test_app_example.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=DOCS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout, result.stdout


# --- What a reader sees on each page ---------------------------------------------------------

PAGES = sorted([*(DOCS / "tutorials").glob("*.rst"), *(DOCS / "howto").glob("*.rst")])
INCLUDE = re.compile(r"^\.\. literalinclude:: (\S+)((?:\n   :[\w-]+:.*)*)", re.MULTILINE)
PYTHON_BLOCK = re.compile(r"^\.\. code-block:: python\n((?:\n|   .*\n)+)", re.MULTILINE)


def includes(page: Path) -> list[tuple[Path, str]]:
    """The files a page includes, with their options (empty: the whole file)."""
    found = []
    for match in INCLUDE.finditer(page.read_text(encoding="utf-8")):
        target = match.group(1)  # "/x" is relative to the docs' root, as Sphinx reads it
        path = DOCS / target.lstrip("/") if target.startswith("/") else page.parent / target
        found.append((path.resolve(), match.group(2).strip()))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_included_file_is_run_by_the_suite(page: Path) -> None:
    """Code on a page comes from files that run: a tutorial/how-to file with a demo() (run
    by test_docs_code_runs), the testing tutorial's test file, or an example under examples/
    (run by tests/examples)."""
    runnable = {path.resolve() for path in EXAMPLES} | {(CODE / "test_app_example.py").resolve()}
    examples = (DOCS.parent / "examples").resolve()
    for path, _ in includes(page):
        assert path.is_file(), f"{page.name} includes a missing file: {path}"
        assert path in runnable or examples in path.parents, f"{page.name}: {path} never runs"


@pytest.mark.parametrize("page", sorted((DOCS / "tutorials").glob("*.rst")), ids=lambda p: p.name)
def test_a_tutorial_shows_every_file_it_quotes_whole(page: Path) -> None:
    """A reader who copies a tutorial gets a whole, runnable file (imports and trio.run
    included), not only the pieces the steps quote. Examples under examples/ are run by the
    README's commands instead."""
    examples = (DOCS.parent / "examples").resolve()
    quoted = {path for path, options in includes(page) if options}
    whole = {path for path, options in includes(page) if not options}
    missing = [p for p in quoted - whole if examples not in p.parents]
    assert not missing, f"{page.name} quotes {missing} but never shows it whole"


@pytest.mark.parametrize("page", [*PAGES, DOCS.parent / "README.md"], ids=lambda p: p.name)
def test_python_blocks_compile(page: Path) -> None:
    """Every Python block a reader sees is valid Python, exactly as shown."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".md":
        blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    else:
        blocks = [inspect.cleandoc(m.group(1)) for m in PYTHON_BLOCK.finditer(text)]
    for block in blocks:
        compile(block, f"{page.name}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
