"""Fixtures and helpers for the station's broker tests (real Mosquitto with mutual TLS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.broker import test_ca, tls_broker  # noqa: F401

SMALL_FILE = "720538-00164-2021"  # 500 lines, 1-7 Jan 2021


@pytest.fixture()
def small_file(data_dir: Path) -> Path:
    """A short real station-year file (skips when it is missing from DATA_DIR)."""
    path = data_dir / SMALL_FILE
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path
