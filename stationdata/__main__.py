"""`python -m stationdata`: see stationdata.cli."""

import sys

from stationdata.cli import main

sys.exit(main())
