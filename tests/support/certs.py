"""The tests' name for `testbed.certs` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.certs import *  # noqa: F401,F403
