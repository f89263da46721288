"""``python -m amc_tui``: the same as the ``amc-tui`` command."""

import sys

from amc_tui.cli import main

sys.exit(main())
