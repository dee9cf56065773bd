"""The real Mosquitto broker for tests: `testbed.broker` (its one home: the benchmarks use it too), plus the
session fixtures.

Fixtures (import them into a conftest: `from tests.support.broker import test_ca, tls_broker  # noqa: F401`):
- `test_ca`: a `TestCA` for the session;
- `tls_broker`: a running `TlsBroker` for the session (default ACL, see `default_acl`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.broker import *  # noqa: F401,F403
from testbed.broker import TlsBroker
from testbed.certs import TestCA


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_broker(docker_engine: None, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with TlsBroker(tmp_path_factory.mktemp("broker"), test_ca) as broker:
        yield broker
