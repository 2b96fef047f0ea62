"""Sphinx configuration for trio-ws.

Build locally with ``uv run sphinx-build -W --keep-going -n -b html docs docs/_build/html``.

Cross-references to Python, Trio and h11 go through intersphinx, which needs the network to
fetch their inventories. It is off unless ``TRIO_WS_DOCS_INTERSPHINX=1`` is set, so the build
works offline (as in CI and the test suite); references to those projects then render as
plain text instead of links, and ``nitpick_ignore_regex`` below keeps nitpicky mode quiet
about them and only them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))

import trio_ws  # noqa: E402

# -- Project -------------------------------------------------------------------------------

project = "trio-ws"
author = "trio-ws developers"
copyright = "trio-ws developers"
release = trio_ws.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "trio_ws_docs",  # docs/_ext/trio_ws_docs.py: state table, public-name resolution
]

exclude_patterns = ["_build", "README-snippet.md", "tutorials/code"]
templates_path: list[str] = []
nitpicky = True
default_role = "py:obj"
primary_domain = "py"
highlight_language = "python3"

# -- autodoc and napoleon ------------------------------------------------------------------

autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
napoleon_attr_annotations = True

# -- Cross-references to other projects ----------------------------------------------------

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "trio": ("https://trio.readthedocs.io/en/stable/", None),
    "h11": ("https://h11.readthedocs.io/en/latest/", None),
}
# trio_ws._options.Compression, the ``Literal["deflate"] | None`` alias that Options fields
# are annotated with; it is not exported, and the docstrings spell out its two values.
nitpick_ignore = [("py:class", "Compression")]

INTERSPHINX = os.environ.get("TRIO_WS_DOCS_INTERSPHINX") == "1"
if not INTERSPHINX:
    # Offline: never try to download inventories (it would warn, and -W makes that fatal).
    intersphinx_mapping = {}
    nitpick_ignore_regex = [
        # Trio's and h11's own names (trio.abc.Stream, trio.Nursery, trio.TooSlowError, ...).
        (r"py:.*", r"trio(\..+)?"),
        (r"py:.*", r"h11(\..+)?"),
        # The standard library modules the docs name, and their members (ssl.SSLContext, ...).
        (
            r"py:.*",
            r"(ssl|socket|hmac|zlib|collections\.abc|contextlib|typing|enum|abc|os)(\..+)?",
        ),
        # Builtin types and exceptions that annotations and "Raises:" sections name.
        (
            r"py:(class|exc|obj|data)",
            r"(int|str|bytes|bytearray|memoryview|float|bool|dict|list|tuple|type|object"
            r"|Exception|BaseException|ValueError|TypeError|OSError|IntEnum|Enum|ABC)",
        ),
    ]

# -- HTML ----------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"trio-ws {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
