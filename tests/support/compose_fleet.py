"""The tests' name for `testbed.compose_fleet` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.compose_fleet import *  # noqa: F401,F403
