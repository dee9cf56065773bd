"""`python -m station` runs the CLI."""

import sys

from station.cli import main

sys.exit(main())
