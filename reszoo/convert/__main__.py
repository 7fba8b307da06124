"""``python -m reszoo.convert``: see ``reszoo.convert.cli``."""

import sys

from reszoo.convert.cli import main

sys.exit(main())
