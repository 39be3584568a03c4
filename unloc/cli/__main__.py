"""`python -m unloc.cli ...`: the `unloc` command."""

import sys

from unloc.cli import main

sys.exit(main())
