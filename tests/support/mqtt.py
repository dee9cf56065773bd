"""The tests' name for `testbed.mqtt` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.mqtt import *  # noqa: F401,F403
