"""Group-mode tests: the station's broker fixtures (`small_file`, the short real data file, is in tests/conftest.py)."""

from tests.support.broker import test_ca, tls_broker  # noqa: F401
