"""``python -m opsui``: same as the ``opsui`` command."""

import sys

from opsui.cli import main

sys.exit(main())
