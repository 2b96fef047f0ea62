"""Run trio-websocket 0.12.2's own test suite against trio_ws.compat.trio_websocket.

Usage::

    uv run python tests/compat/run_incumbent_suite.py [--sdist PATH] [-v]

What it does, and nothing more:

1. ``pip download`` the trio-websocket 0.12.2 sdist (no dependencies, no wheel) into a
   temporary directory, check its SHA-256 against the one pinned below, and extract
   ``tests/test_connection.py`` unchanged. ``--sdist`` (or the environment variable
   ``TRIO_WEBSOCKET_SDIST``) uses a copy you already have instead.
2. Write a shim package named ``trio_websocket`` in the temporary directory and put it first
   on ``sys.path``: ``trio_websocket`` re-exports :mod:`trio_ws.compat.trio_websocket`, and
   ``trio_websocket._impl`` forwards to ``trio_ws.compat.trio_websocket._client`` (where
   ``open_websocket`` and ``connect_websocket`` live, so the suite's ``mock.patch`` of them
   reaches the code that calls them) and adds ``_TRIO_EXC_GROUP_TYPE``, the one private name
   the test module imports. No line of the incumbent's test file is changed.
3. Write a ``conftest.py`` beside it that runs each async test with a watchdog task: a test
   still running after 120 s of Trio's clock (which ``autojump_clock`` advances when every
   task waits) fails instead of hanging the run.
4. Run pytest on it (with ``trio_mode``, as the incumbent's CI does) and print one line per
   test, then ``passed: N of M``.

The test module imports ``wsproto`` (for its ``CloseConnection`` event); when the running
Python lacks it, the wsproto wheel is downloaded too and put on ``PYTHONPATH`` (a pure-Python
wheel imports from its zip file).

Exit status: 0 when the run completed (whatever the count), 2 when the sdist could not be
obtained (no network), 1 on any other failure to run.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.12.2"
SDIST = f"trio_websocket-{VERSION}.tar.gz"
# The SHA-256 of trio_websocket-0.12.2.tar.gz as PyPI serves it.
SDIST_SHA256 = "22c72c436f3d1e264d0910a3951934798dcc5b00ae56fc4ee079d46c7cf20fae"
WSPROTO = "wsproto==1.2.0"
TEST_FILE = "tests/test_connection.py"
NO_NETWORK = 2

SHIM_INIT = '''\
"""trio_websocket, played by trio_ws.compat.trio_websocket (written by run_incumbent_suite)."""
from trio_ws.compat.trio_websocket import *  # noqa: F403
from trio_ws.compat.trio_websocket import __all__  # noqa: F401
'''

SHIM_IMPL = '''\
"""trio_websocket._impl: forwards to trio_ws.compat.trio_websocket._client."""
import sys
import types

from trio_ws.compat.trio_websocket import _client


class _Forward(types.ModuleType):
    # Reads and writes (mock.patch) go to the compat module, so a patched function is the one
    # its callers look up.
    def __getattr__(self, name):
        return getattr(_client, name)

    def __setattr__(self, name, value):
        setattr(_client, name, value)

    def __delattr__(self, name):
        delattr(_client, name)


_module = _Forward(__name__)
# The one private name trio-websocket's test module imports.
types.ModuleType.__setattr__(_module, "_TRIO_EXC_GROUP_TYPE", BaseExceptionGroup)
sys.modules[__name__] = _module
'''

CONFTEST = '''\
"""Watchdog for the incumbent's suite (written by run_incumbent_suite)."""
import inspect

import pytest
import trio

LIMIT = 120.0


class Hung(Exception):
    pass


def guarded_run(fn, **kwargs):
    # trio.run with a watchdog task beside the test: a test still running after LIMIT
    # seconds of Trio's clock (which autojump_clock advances when all tasks wait) fails.
    async def main():
        async with trio.open_nursery() as nursery:

            async def watch():
                await trio.sleep(LIMIT)
                raise Hung(f"the test was still running after {LIMIT} s (Trio's clock)")

            nursery.start_soon(watch)
            result = await fn()
            nursery.cancel_scope.cancel()
        return result

    return trio.run(main, **kwargs)


def pytest_collection_modifyitems(items):
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.trio(run=guarded_run))
'''

PYTEST_INI = """\
[pytest]
trio_mode = true
addopts = -p no:cacheprovider -p no:randomly
"""


def _pip() -> list[str]:
    """The command that runs pip: this Python's, pip on PATH, or uv's."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    uvx = shutil.which("uvx")
    if uvx:
        return [uvx, "pip"]
    raise SystemExit("no pip found: install pip, or pass --sdist")


def _download(args: list[str], dest: Path) -> None:
    cmd = [*_pip(), "download", "--no-deps", "--disable-pip-version-check", "-d", str(dest)]
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        print(f"cannot download {' '.join(args)} (no network?)", file=sys.stderr)
        raise SystemExit(NO_NETWORK)


def _sdist(given: str | None, work: Path) -> Path:
    if given:
        path = Path(given)
    else:
        _download(["--no-binary", ":all:", f"trio-websocket=={VERSION}"], work)
        path = work / SDIST
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{path}: SHA-256 {digest} is not the pinned {SDIST_SHA256}")
    return path


def _extract_tests(sdist: Path, work: Path) -> Path:
    member = f"trio_websocket-{VERSION}/{TEST_FILE}"
    with tarfile.open(sdist) as tar:
        source = tar.extractfile(member)
        if source is None:  # pragma: no cover - the pinned sdist has it
            raise SystemExit(f"{sdist} has no {member}")
        text = source.read()
    tests = work / "tests"
    tests.mkdir()
    (tests / "test_connection.py").write_bytes(text)
    return tests


def _write_shim(work: Path) -> Path:
    shim = work / "shim"
    package = shim / "trio_websocket"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SHIM_INIT)
    (package / "_impl.py").write_text(SHIM_IMPL)
    return shim


def _wsproto_path(work: Path) -> list[str]:
    if importlib.util.find_spec("wsproto") is not None:
        return []
    wheels = work / "wheels"
    _download(["--only-binary", ":all:", WSPROTO], wheels)
    return [str(path) for path in sorted(wheels.glob("wsproto-*.whl"))]


def run(sdist: str | None = None, *, verbose: bool = False) -> tuple[int, int, list[str]]:
    """Run the suite; return (passed, total, one "name: outcome" line per test).

    Raises:
        SystemExit: the sdist or wsproto could not be downloaded (code 2), or another
            failure to set up the run.
    """
    with tempfile.TemporaryDirectory(prefix="incumbent-suite-") as name:
        work = Path(name)
        tests = _extract_tests(_sdist(sdist, work), work)
        (tests / "conftest.py").write_text(CONFTEST)
        (work / "pytest.ini").write_text(PYTEST_INI)
        path = [str(_write_shim(work)), *_wsproto_path(work)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [sys.executable, "-m", "pytest", "-c", str(work / "pytest.ini"), "-rA", "-q"]
        env["COLUMNS"] = "400"  # whole reasons on the -rA lines
        cmd += ["--rootdir", str(work), "-W", "ignore::DeprecationWarning", str(tests)]
        if verbose:
            cmd.append("--tb=short")
        else:
            cmd.append("--tb=line")
        result = subprocess.run(
            cmd, capture_output=True, text=True, cwd=work, env=env, timeout=900
        )
        if verbose:
            print(result.stdout, result.stderr, sep="\n")
        lines = []
        for match in re.finditer(
            r"^(PASSED|FAILED|ERROR) \S*?::(\S+)(?: - (.*))?$", result.stdout, re.MULTILINE
        ):
            outcome, test, why = match.groups()
            lines.append(f"{test}: {outcome.lower()}" + (f" ({why})" if why else ""))
        names = dict.fromkeys(line.split(": ", 1)[0] for line in lines)
        failed = {line.split(": ", 1)[0] for line in lines if ": passed" not in line}
        passed = len(names) - len(failed)
        total = len(names)
        if total == 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit("pytest reported no results")
        return passed, total, lines


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", default=os.environ.get("TRIO_WEBSOCKET_SDIST"))
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    options = parser.parse_args()
    passed, total, lines = run(options.sdist, verbose=options.verbose)
    print(*lines, sep="\n")
    print(f"passed: {passed} of {total}")


if __name__ == "__main__":
    main()
