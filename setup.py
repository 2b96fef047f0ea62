"""Build the optional masking accelerator; fall back to pure Python without a compiler."""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build C extensions, but never fail the install if that is not possible."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            print(f"warning: trio_ws accelerator not built ({exc}); using pure Python")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"warning: {ext.name} not built ({exc}); using pure Python")


ext_modules = []
SPEEDUPS = "src/trio_ws/protocol/_speedups.c"
if os.environ.get("TRIO_WS_NO_EXTENSIONS") is None and os.path.exists(SPEEDUPS):
    ext_modules.append(
        Extension(
            "trio_ws.protocol._speedups",
            sources=[SPEEDUPS],
            optional=True,
        )
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
