"""The two places ISD files come from, behind one interface: NCEI's web tree (or any mirror of its layout) and
the AWS Open Data bucket `noaa-isd-pds` (or any S3 endpoint holding its layout), read with unsigned requests.

    NCEI layout: BASE/isd-history.csv        BASE/YEAR/USAF-WBAN-YEAR.gz
    S3 layout:   s3://BUCKET/isd-history.csv s3://BUCKET/data/YEAR/USAF-WBAN-YEAR.gz

A fetch streams the object into a file object and raises SourceError with a kind saying what the caller may do:
NOT_FOUND (the object does not exist there: try the other source, then report it missing), UNREACHABLE (the
source cannot be reached at all: stop using it), TRANSIENT (retry with backoff), REFUSED (an answer retrying
cannot change, e.g. HTTP 403 or a bucket that does not exist).
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum
from typing import BinaryIO

from stationdata.catalogue import CATALOGUE_NAME
from stationdata.data_settings import DataSettings, DataSourceName
from stationdata.errors import StationDataError

CHUNK = 256 * 1024
OnBytes = Callable[[int], None]


class SourceErrorKind(str, Enum):
    NOT_FOUND = "not found"
    UNREACHABLE = "unreachable"
    TRANSIENT = "transient"
    REFUSED = "refused"


class SourceError(StationDataError):
    """One failed fetch: what happened (`kind`) and a one-line message naming the location."""

    def __init__(self, kind: SourceErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def year_of(stem: str) -> str:
    """'USAF-WBAN-YEAR' -> 'YEAR'."""
    return stem.rsplit("-", 1)[1]


class Source(ABC):
    """One place to fetch from."""

    name: DataSourceName

    @abstractmethod
    def station_year(self, stem: str) -> str:
        """The location of `stem` (USAF-WBAN-YEAR) at this source, for fetch() and messages."""

    @abstractmethod
    def catalogue(self) -> str:
        """The location of isd-history.csv at this source."""

    @abstractmethod
    def fetch(self, location: str, out: BinaryIO, on_bytes: OnBytes | None = None) -> int:
        """Stream `location` into `out`; the number of bytes written. SourceError on failure."""

    @abstractmethod
    def describe(self) -> str:
        """Where this source is, for messages (URL or bucket and endpoint)."""


def _copy(stream: BinaryIO, out: BinaryIO, expected: int | None, location: str, on_bytes: OnBytes | None,
          transient: tuple[type[BaseException], ...]) -> int:
    written = 0
    try:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
            written += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    except transient as exc:
        raise SourceError(SourceErrorKind.TRANSIENT,
                          f"{location}: connection lost after {written} bytes ({type(exc).__name__}: {exc})") from exc
    if expected is not None and written != expected:
        raise SourceError(SourceErrorKind.TRANSIENT,
                          f"{location}: connection closed after {written} of {expected} bytes")
    return written


class NceiSource(Source):
    """NCEI's https tree, or a mirror of it (NCEI_BASE_URL: http(s):// or file://)."""

    name = DataSourceName.NCEI

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def describe(self) -> str:
        return f"NCEI at {self.base_url} (NCEI_BASE_URL)"

    def station_year(self, stem: str) -> str:
        return f"{self.base_url}/{year_of(stem)}/{stem}.gz"

    def catalogue(self) -> str:
        return f"{self.base_url}/{CATALOGUE_NAME}"

    def fetch(self, location: str, out: BinaryIO, on_bytes: OnBytes | None = None) -> int:
        try:
            resp = urllib.request.urlopen(location, timeout=self.timeout)  # noqa: S310 (configured URL)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                raise SourceError(SourceErrorKind.NOT_FOUND, f"{location}: HTTP {exc.code} (not at the source)") from exc
            kind = SourceErrorKind.TRANSIENT if exc.code >= 500 or exc.code in (408, 429) else SourceErrorKind.REFUSED
            raise SourceError(kind, f"{location}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, FileNotFoundError):
                raise SourceError(SourceErrorKind.NOT_FOUND, f"{location}: no such file (not at the source)") from exc
            raise SourceError(SourceErrorKind.UNREACHABLE, f"{location}: cannot connect ({reason})") from exc
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            raise SourceError(SourceErrorKind.UNREACHABLE, f"{location}: cannot connect ({exc})") from exc
        with resp:
            length = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            expected = int(length) if length and length.isdigit() else None
            return _copy(resp, out, expected, location, on_bytes,
                         (TimeoutError, ConnectionError, socket.timeout, http.client.HTTPException, OSError))


class S3Source(Source):
    """An S3 bucket with the noaa-isd-pds layout, read without credentials (unsigned requests)."""

    name = DataSourceName.AWS

    def __init__(self, bucket: str, region: str, endpoint_url: str | None, timeout: float) -> None:
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self._client = None
        self._client_lock = threading.Lock()

    def describe(self) -> str:
        where = self.endpoint_url or f"AWS {self.region}"
        return f"S3 bucket {self.bucket} at {where} (ISD_BUCKET, AWS_ENDPOINT_URL)"

    def station_year(self, stem: str) -> str:
        return f"data/{year_of(stem)}/{stem}.gz"

    def catalogue(self) -> str:
        return CATALOGUE_NAME

    def client(self):  # type: ignore[no-untyped-def]
        """One unsigned S3 client (thread-safe), created on first use; botocore's retries are off (ours run)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
        return self._client

    def _new_client(self):  # type: ignore[no-untyped-def]
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
        except ImportError as exc:
            raise SourceError(SourceErrorKind.REFUSED, "the aws source needs boto3: pip install -e '.[fleet]' "
                              "(or DATA_SOURCE=ncei)") from exc
        config = Config(signature_version=UNSIGNED, connect_timeout=self.timeout, read_timeout=self.timeout,
                        retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=64)
        return boto3.session.Session().client("s3", region_name=self.region, config=config,
                                             endpoint_url=self.endpoint_url)

    def fetch(self, location: str, out: BinaryIO, on_bytes: OnBytes | None = None) -> int:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        where = f"s3://{self.bucket}/{location}"
        try:
            resp = self.client().get_object(Bucket=self.bucket, Key=location)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise SourceError(SourceErrorKind.NOT_FOUND, f"{where}: NoSuchKey (not at the source)") from exc
            if code == "NoSuchBucket":
                raise SourceError(SourceErrorKind.REFUSED, f"{where}: no bucket {self.bucket} there (ISD_BUCKET, "
                                  "AWS_ENDPOINT_URL)") from exc
            kind = SourceErrorKind.TRANSIENT if (status or 0) >= 500 or code in ("SlowDown", "RequestTimeout") \
                else SourceErrorKind.REFUSED
            raise SourceError(kind, f"{where}: {code or status}") from exc
        except (EndpointConnectionError, ConnectionClosedError) as exc:
            raise SourceError(SourceErrorKind.UNREACHABLE, f"{where}: cannot connect ({exc})") from exc
        except ReadTimeoutError as exc:
            raise SourceError(SourceErrorKind.TRANSIENT, f"{where}: {exc}") from exc
        except BotoCoreError as exc:
            if "connect" in type(exc).__name__.lower():
                raise SourceError(SourceErrorKind.UNREACHABLE, f"{where}: cannot connect ({exc})") from exc
            raise SourceError(SourceErrorKind.TRANSIENT, f"{where}: {exc}") from exc
        body = resp["Body"]
        try:
            return _copy(body, out, resp.get("ContentLength"), where, on_bytes,
                         (BotoCoreError, ResponseStreamingError, ConnectionError, TimeoutError, OSError))
        finally:
            body.close()


def make_sources(settings: DataSettings) -> list[Source]:
    """The sources to try, in order (DATA_SOURCE first, the other as fallback unless DATA_FALLBACK=false)."""
    made: dict[DataSourceName, Source] = {
        DataSourceName.NCEI: NceiSource(settings.ncei_base_url, settings.data_timeout_seconds),
        DataSourceName.AWS: S3Source(settings.isd_bucket, settings.isd_bucket_region, settings.bucket_endpoint_url,
                                     settings.data_timeout_seconds),
    }
    return [made[name] for name in settings.source_order()]
