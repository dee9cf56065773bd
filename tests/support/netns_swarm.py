"""The tests' name for `testbed.netns_swarm` (its one home: the benchmarks use it too, and scripts never import tests)."""

from testbed.netns_swarm import *  # noqa: F401,F403
