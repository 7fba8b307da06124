"""``python -m reszoo.tune``."""

import sys

from reszoo.tune.cli import main

sys.exit(main())
