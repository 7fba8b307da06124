"""``python -m reszoo.training``: the same command line as ``python -m reszoo.train``."""

import sys

from reszoo.training.cli import main

sys.exit(main())
