"""``python -m pixelforge.cli``: the same as the ``pixelforge`` command."""

import sys

from pixelforge.cli import main

sys.exit(main())
