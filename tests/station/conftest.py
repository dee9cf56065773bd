"""Fixtures and helpers for the station's broker tests (real Mosquitto with mutual TLS).

`small_file` (the committed 400-line excerpt of 720538-00164-2021) comes from tests/conftest.py.
"""

from __future__ import annotations

from tests.support.broker import test_ca, tls_broker  # noqa: F401
