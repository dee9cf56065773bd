"""`python -m deploy.chaos` (see deploy.chaos.cli)."""

import sys

from deploy.chaos.cli import main

sys.exit(main())
