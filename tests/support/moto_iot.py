"""The tests' name for `testbed.moto_iot` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.moto_iot import *  # noqa: F401,F403
