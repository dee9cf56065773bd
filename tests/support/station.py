"""The tests' name for `testbed.station` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.station import *  # noqa: F401,F403
