"""`python -m mcpeeker.cli …`, the same as the `mcpeeker` command."""

import sys

from . import main

sys.exit(main())
