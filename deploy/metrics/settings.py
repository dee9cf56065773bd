"""Settings of `python -m deploy.metrics` (.env.example, Metrics section)."""

from __future__ import annotations

from pydantic import Field

from fleetcore.settings import FleetSettingsBase, load_settings
from deploy.errors import ConfigError


class PrometheusSettings(FleetSettingsBase):
    prometheus_port: int = Field(9090, validation_alias="PROMETHEUS_PORT", ge=1, le=65535,
                                 description="Host port (127.0.0.1 only) of the fleet's Prometheus.")
    scrape_interval_seconds: int = Field(5, validation_alias="PROMETHEUS_SCRAPE_INTERVAL", ge=1, le=300)
    alert_for_seconds: int = Field(60, validation_alias="PROMETHEUS_ALERT_FOR", ge=0,
                                   description="How long a condition must hold before its alert fires.")
    lake_lag_alert_seconds: float = Field(300, validation_alias="LAKE_LAG_ALERT_SECONDS", gt=0,
                                          description="Alert LakeLagHigh above this sent_at->lake p95 (seconds).")
    ack_ratio_alert: float = Field(0.99, validation_alias="ACK_RATIO_ALERT", gt=0, le=1,
                                   description="Alert FleetAckRatioLow below this acknowledged/published ratio.")


def load() -> PrometheusSettings:
    return load_settings(PrometheusSettings, ConfigError)
