"""`python -m provisioning` runs the CLI."""

import sys

from provisioning.cli import main

sys.exit(main())
