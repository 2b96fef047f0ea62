"""``python -m trio_ws URL``: the interactive client of :mod:`trio_ws._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
