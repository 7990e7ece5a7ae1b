"""``python -m historian.cli``: the ``historian`` command."""

import sys

from historian.cli import main

sys.exit(main())
