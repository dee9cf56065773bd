"""Fixtures for the pipeline's broker tests (real Mosquitto with mutual TLS, from tests/support)."""

from tests.support.broker import test_ca, tls_broker  # noqa: F401
