"""Configuration of the local pipeline, from the environment and `.env` (pydantic-settings).

Every variable is listed in `.env.example` under "Pipeline". Paths are relative to the working directory
(the repository root when run with `make`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from fleetcore.identity import DEFAULT_FLEET_DIR, LAKE_CLIENT_ID, METRICS_THING, MONITOR_THING, thing_dir
from fleetcore.metrics import BROKER_METRICS_PORT, LAKE_METRICS_PORT
from fleetcore.setting_groups import BrokerAddress, LakeFolder, TopicSetting
from fleetcore.settings import load_settings
from pipeline.errors import ConfigError

MIB = 1024 * 1024


def load() -> PipelineSettings:
    """The settings, or pipeline's ConfigError with one line per bad variable (`fleetcore.settings`)."""
    return load_settings(PipelineSettings, ConfigError)


class PipelineSettings(BrokerAddress, TopicSetting, LakeFolder):
    """Settings of `pipeline lake|cold|sql|query|dashboard`. The lake writer connects to MQTT_HOST:MQTT_PORT and
    subscribes to TOPIC (shared groups: `fleetcore.setting_groups`) as the monitor identity."""

    monitor_identity_dir: Path = Field(thing_dir(DEFAULT_FLEET_DIR, MONITOR_THING),
                                       validation_alias="MONITOR_IDENTITY_DIR",
                                       description="certificate.pem, private.key, ca.pem of the monitor thing.")
    lake_client_id: str = Field(LAKE_CLIENT_ID, validation_alias="LAKE_CLIENT_ID",
                                description="MQTT client id of the lake writer (its persistent session). The broker "
                                            "accepts monitor-lake or monitor-lake-<suffix> (docs/security.md).")
    lake_require_publisher: bool = Field(True, validation_alias="LAKE_REQUIRE_PUBLISHER",
                                         description="Quarantine messages the broker did not stamp with their "
                                                     "publisher; false stores them with publisher null.")
    lake_session_expiry_seconds: int = Field(7 * 24 * 3600, validation_alias="LAKE_SESSION_EXPIRY_SECONDS",
        description="How long the broker keeps the lake writer's session while it is away (7 days).", ge=0)

    # What the lake writer writes, and when.
    lake_prefix: str = Field("sensor/weather", validation_alias="LAKE_PREFIX",
                             description="Folder under LAKE_DIR, like the Firehose S3 prefix.")
    lake_buffer_bytes: int = Field(5 * MIB, validation_alias="LAKE_BUFFER_BYTES", ge=1,
                                   description="Flush when the buffered NDJSON reaches this many bytes.")
    lake_buffer_seconds: float = Field(60.0, validation_alias="LAKE_BUFFER_SECONDS", gt=0,
                                       description="Flush when the oldest buffered message is this old.")
    cold_rule_enabled: bool = Field(True, validation_alias="COLD_RULE_ENABLED",
                                    description="Apply the cold-readings rule to every flushed batch.")
    cold_db: Path | None = Field(None, validation_alias="COLD_DB",
                                 description="SQLite file of the cold-readings table; default LAKE_DIR/cold_readings.sqlite3.")

    # Metrics (docs/observability.md): the lake writer's /metrics, the broker exporter and the live dashboard.
    lake_metrics_port: int = Field(LAKE_METRICS_PORT, validation_alias="LAKE_METRICS_PORT", ge=0, le=65535,
                                   description="Port of the lake writer's /metrics (0: none).")
    broker_metrics_port: int = Field(BROKER_METRICS_PORT, validation_alias="BROKER_METRICS_PORT", ge=1, le=65535,
                                     description="Port of `pipeline broker-metrics` (the broker's $SYS as metrics).")
    metrics_identity_dir: Path = Field(thing_dir(DEFAULT_FLEET_DIR, METRICS_THING),
                                       validation_alias="METRICS_IDENTITY_DIR",
                                       description="certificate.pem, private.key, ca.pem of the metrics thing "
                                                   "(may read $SYS/# and nothing else).")
    prometheus_url: str = Field("http://127.0.0.1:9090", validation_alias="PROMETHEUS_URL",
                                description="Prometheus the live dashboard queries (make metrics-up).")
    dashboard_live_port: int = Field(8050, validation_alias="DASHBOARD_LIVE_PORT", ge=1, le=65535,
                                     description="Port of `make dashboard-live` on 127.0.0.1.")
    dashboard_live_points: int = Field(2000, validation_alias="DASHBOARD_LIVE_POINTS", ge=10,
                                       description="Most points the live map draws; more stations are binned "
                                                   "into grid cells (mean temperature per cell).")

    # What `pipeline sql|query|dashboard` read and write.
    warehouse_db: Path | None = Field(None, validation_alias="WAREHOUSE_DB",
                                      description="DuckDB file for the flattened table; default LAKE_DIR/warehouse.duckdb.")
    lake_database: str = Field("weather_lake", validation_alias="LAKE_DATABASE",
        description="Database name the queries use, as in Athena.")
    lake_table: str = Field("weather", validation_alias="LAKE_TABLE",
        description="Table of the raw messages the queries use, as in Athena.")
    lake_flat_table: str = Field("weather_flat", validation_alias="LAKE_FLAT_TABLE",
        description="Flattened table of `make query`, as in Athena.")
    dashboard_path: Path | None = Field(None, validation_alias="DASHBOARD_PATH",
                                        description="Where `make dashboard` writes; default LAKE_DIR/dashboard.html.")
    station_names_file: Path | None = Field(Path(".fleet/stations.json"), validation_alias="STATION_NAMES_FILE",
                                            description="Station names for the dashboard (written by `make "
                                            "register`); absent: station ids only.")

    @field_validator("lake_client_id")
    @classmethod
    def _lake_client_id(cls, value: str) -> str:
        # The broker (fleet_identity plugin) accepts only these ids for the monitor identity's lake writers.
        suffix = value.removeprefix(f"{LAKE_CLIENT_ID}-")
        if value != LAKE_CLIENT_ID and (suffix == value or not suffix):
            raise ValueError(f"LAKE_CLIENT_ID={value!r}: the broker accepts only {LAKE_CLIENT_ID!r} or "
                             f"'{LAKE_CLIENT_ID}-<suffix>' for a lake writer (docs/security.md)")
        return value

    @field_validator("lake_prefix")
    @classmethod
    def _relative_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not value or ".." in value.split("/"):
            raise ValueError(f"LAKE_PREFIX={value!r} must be a relative folder such as 'sensor/weather'")
        return value

    @property
    def lake_root(self) -> Path:
        """The folder holding the date-partitioned files: LAKE_DIR/LAKE_PREFIX."""
        return self.lake_dir / self.lake_prefix

    @property
    def state_dir(self) -> Path:
        """The lake writer's private state (ledger, temporary files): LAKE_DIR/.state."""
        return self.lake_dir / ".state"

    @property
    def cold_db_path(self) -> Path:
        return self.cold_db or self.lake_dir / "cold_readings.sqlite3"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_db or self.lake_dir / "warehouse.duckdb"

    @property
    def dashboard_file(self) -> Path:
        return self.dashboard_path or self.lake_dir / "dashboard.html"

    def query_names(self) -> dict[str, str]:
        """Placeholder values for `pipeline.queries.load_query`."""
        return {"database": self.lake_database, "table": self.lake_table, "flat_table": self.lake_flat_table}
