"""Group-mode tests: the station's broker fixtures and its short real data file."""

from tests.station.conftest import small_file  # noqa: F401
from tests.support.broker import test_ca, tls_broker  # noqa: F401
