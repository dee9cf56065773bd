"""Where ISD files and the station catalogue come from (`make data`, `make stations`): the `Data` section of
`.env.example`, read by pydantic-settings (environment wins over .env)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from fleetcore.setting_groups import AwsEndpoint, DataFolder
from fleetcore.settings import load_settings
from stationdata.errors import ConfigError

DEFAULT_NCEI_BASE_URL = "https://www.ncei.noaa.gov/pub/data/noaa"
DEFAULT_ISD_BUCKET = "noaa-isd-pds"


class DataSourceName(StrEnum):
    """The two places NOAA publishes the same files."""

    NCEI = "ncei"
    AWS = "aws"

    def other(self) -> DataSourceName:
        return DataSourceName.AWS if self is DataSourceName.NCEI else DataSourceName.NCEI


class DataSettings(AwsEndpoint, DataFolder):
    """Where the station-years are (DATA_DIR), their sources, mirrors and download behaviour (AWS_ENDPOINT_URL:
    `fleetcore.setting_groups.AwsEndpoint`)."""

    data_source: DataSourceName = Field(default=DataSourceName.NCEI, validation_alias="DATA_SOURCE",
                                        description="Source tried first (ncei or aws); the other is the fallback.")
    data_fallback: bool = Field(default=True, validation_alias="DATA_FALLBACK",
                                description="Try the other source when the first fails.")
    ncei_base_url: str = Field(default=DEFAULT_NCEI_BASE_URL, validation_alias="NCEI_BASE_URL",
                               description="NCEI layout: BASE/isd-history.csv and BASE/YEAR/USAF-WBAN-YEAR.gz.")
    isd_bucket: str = Field(default=DEFAULT_ISD_BUCKET, validation_alias="ISD_BUCKET",
                            pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                            description="S3 bucket layout: isd-history.csv and data/YEAR/USAF-WBAN-YEAR.gz.")
    isd_bucket_region: str = Field(default="us-east-1", validation_alias="ISD_BUCKET_REGION")
    isd_endpoint_url: str | None = Field(default=None, validation_alias="ISD_ENDPOINT_URL",
                                         description="Endpoint of ISD_BUCKET only (default AWS_ENDPOINT_URL).")
    data_workers: int = Field(default=8, ge=1, le=64, validation_alias="DATA_WORKERS",
                              description="Files downloaded at the same time.")
    data_attempts: int = Field(default=4, ge=1, le=10, validation_alias="DATA_ATTEMPTS",
                               description="Attempts per file and source (exponential backoff between them).")
    data_backoff_seconds: float = Field(default=1.0, ge=0, le=60, validation_alias="DATA_BACKOFF_SECONDS")
    data_timeout_seconds: float = Field(default=30.0, gt=0, le=600, validation_alias="DATA_TIMEOUT_SECONDS")
    catalogue_max_age_days: int = Field(default=30, ge=0, validation_alias="CATALOGUE_MAX_AGE_DAYS",
                                        description="Re-fetch the cached isd-history.csv when older (0: always).")

    @field_validator("ncei_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "file://")):
            raise ValueError("must start with http://, https:// or file://")
        return value.rstrip("/")

    @property
    def bucket_endpoint_url(self) -> str | None:
        """The bucket's endpoint: ISD_ENDPOINT_URL for this bucket only, else AWS_ENDPOINT_URL (every AWS call)."""
        return self.isd_endpoint_url or self.endpoint_url

    def source_order(self) -> list[DataSourceName]:
        """The sources to try, first the chosen one."""
        first = self.data_source
        return [first, first.other()] if self.data_fallback else [first]


def load(**overrides: object) -> DataSettings:
    """DataSettings from the environment and `.env`, raising station data's ConfigError (one line per variable)."""
    return load_settings(DataSettings, ConfigError, **overrides)
