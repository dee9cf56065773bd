"""Downloads at scale against real sources: a local NCEI-layout HTTP server serving real ISD files, and the S3
layout of noaa-isd-pds through moto (unsigned requests). Covers concurrency, resume after a kill, corrupt gzip,
404, a source that is down (fallback), and no network at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stationdata import data
from stationdata.data_settings import DataSettings
from stationdata.download import Downloader, Outcome, verify_gzip
from stationdata.sources import NceiSource, S3Source
from tests.conftest import isd_data_dir, require
from tests.support.isd_server import REPO, IsdServer, closed_port, ncei_tree

BUCKET = "noaa-isd-pds"


def ncei(url: str) -> NceiSource:
    return NceiSource(url, timeout=10)


def downloader(data_dir: Path, *sources, workers: int = 4, attempts: int = 3) -> Downloader:  # type: ignore[no-untyped-def]
    return Downloader(data_dir, list(sources), workers=workers, attempts=attempts, backoff_seconds=0.01)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "mirror"
    return root, ncei_tree(root)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tree: tuple[Path, dict[str, bytes]]):  # type: ignore[no-untyped-def]
    """moto's S3 with the noaa-isd-pds layout (data/YEAR/NAME.gz) holding the same real files."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    _, served = tree
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        # Like the real bucket (AWS Open Data): anyone may read and list, so unsigned requests work and a missing
        # key is 404 NoSuchKey, not 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"],
                           "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}))
        for stem, body in served.items():
            client.put_object(Bucket=BUCKET, Key=f"data/{stem.rsplit('-', 1)[1]}/{stem}.gz", Body=body)
        yield S3Source(BUCKET, "us-east-1", None, timeout=10)


def test_fetches_concurrently_and_verifies(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    out = tmp_path / "data"
    with IsdServer(root, delay=0.2) as server:
        summary = downloader(out, ncei(server.base_url), workers=4).run(sorted(served))
    assert [r.outcome for r in summary.results] == [Outcome.FETCHED] * len(served)
    assert {r.source for r in summary.results} == {"ncei"}
    for stem, body in served.items():
        assert (out / f"{stem}.gz").read_bytes() == body
    assert summary.fetched_bytes == sum(len(b) for b in served.values())
    if len(served) > 1:
        assert server.max_inflight >= 2, "downloads did not overlap"
    assert leftovers(out) == []


def test_resume_skips_complete_files_and_discards_partials(tmp_path: Path,
                                                           tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    stems = sorted(served)
    out = tmp_path / "data"
    out.mkdir()
    (out / f"{stems[0]}.gz").write_bytes(served[stems[0]])            # complete from an earlier run
    (out / f".{stems[-1]}.gz.x1y2.part").write_bytes(served[stems[-1]][:1000])  # left by a killed run
    with IsdServer(root) as server:
        summary = downloader(out, ncei(server.base_url)).run(stems)
    assert summary.results[0].outcome is Outcome.PRESENT
    assert server.requests[f"{stems[0].rsplit('-', 1)[1]}/{stems[0]}.gz"] == 0
    assert all(r.outcome is Outcome.FETCHED for r in summary.results[1:])
    assert leftovers(out) == []
    assert (out / f"{stems[-1]}.gz").read_bytes() == served[stems[-1]]


def test_connection_cut_mid_body_is_retried(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    stem = sorted(served)[0]
    path = f"{stem.rsplit('-', 1)[1]}/{stem}.gz"
    with IsdServer(root) as server:
        server.cut[path] = 2
        summary = downloader(tmp_path / "d", ncei(server.base_url), attempts=3).run([stem])
    assert summary.results[0].outcome is Outcome.FETCHED and server.requests[path] == 3
    assert (tmp_path / "d" / f"{stem}.gz").read_bytes() == served[stem]


def test_corrupt_gzip_is_rejected_and_fetched_again(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    stem = sorted(served)[0]
    path = f"{stem.rsplit('-', 1)[1]}/{stem}.gz"
    out = tmp_path / "d"
    out.mkdir()
    body = served[stem]
    damaged = body[: len(body) // 2] + bytes(len(body) - len(body) // 2)  # right size, wrong content
    (out / f"{stem}.gz").write_bytes(damaged)
    assert verify_gzip(out / f"{stem}.gz") is not None
    with IsdServer(root) as server:
        server.corrupt[path] = 1  # the first answer is corrupt too
        summary = downloader(out, ncei(server.base_url)).run([stem])
    result = summary.results[0]
    assert result.outcome is Outcome.FETCHED and "fetched again" in result.detail
    assert server.requests[path] == 2
    assert (out / f"{stem}.gz").read_bytes() == body and leftovers(out) == []


def test_missing_station_year_is_reported_not_fatal(tmp_path: Path, tree: tuple[Path, dict[str, bytes]],
                                                   s3: S3Source, capsys: pytest.CaptureFixture[str]) -> None:
    root, served = tree
    stems = [sorted(served)[0], "999999-99999-1901"]
    settings = DataSettings(data_workers=2, data_attempts=2, data_backoff_seconds=0.01)
    with IsdServer(root) as server:
        code = data.download(stems, tmp_path / "d", settings, progress=False, sources=[ncei(server.base_url), s3])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 fetched" in out and "1 missing at the source" in out and "0 failed" in out
    assert "missing 999999-99999-1901" in out and "HTTP 404" in out and "NoSuchKey" in out


def test_s3_source_alone(tmp_path: Path, tree: tuple[Path, dict[str, bytes]], s3: S3Source) -> None:
    _, served = tree
    stems = sorted(served) + ["999999-99999-1901"]
    summary = downloader(tmp_path / "d", s3).run(stems)
    assert [r.outcome for r in summary.results] == [Outcome.FETCHED] * len(served) + [Outcome.MISSING]
    assert all((tmp_path / "d" / f"{s}.gz").read_bytes() == served[s] for s in served)


def test_source_down_falls_back_to_the_other(tmp_path: Path, tree: tuple[Path, dict[str, bytes]],
                                             s3: S3Source) -> None:
    _, served = tree
    summary = downloader(tmp_path / "d", ncei(f"http://127.0.0.1:{closed_port()}"), s3).run(sorted(served))
    assert [r.outcome for r in summary.results] == [Outcome.FETCHED] * len(served)
    assert {r.source for r in summary.results} == {"aws"}
    assert list(summary.unreachable) == ["ncei"]


def test_s3_down_falls_back_to_ncei(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    dead_s3 = S3Source(BUCKET, "us-east-1", f"http://127.0.0.1:{closed_port()}", timeout=5)
    with IsdServer(root) as server:
        summary = downloader(tmp_path / "d", dead_s3, ncei(server.base_url)).run(sorted(served))
    assert {r.source for r in summary.results} == {"ncei"} and list(summary.unreachable) == ["aws"]


def test_no_network_one_message_non_zero_nothing_written(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    sources = [ncei(f"http://127.0.0.1:{closed_port()}"),
               S3Source(BUCKET, "us-east-1", f"http://127.0.0.1:{closed_port()}", timeout=5)]
    out = tmp_path / "d"
    settings = DataSettings(data_workers=4, data_attempts=3, data_backoff_seconds=0.01)
    code = data.download(["030910-99999-2022", "061100-99999-2022", "723123-14886-2022"], out, settings,
                         progress=False, sources=sources)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("cannot reach any data source") == 1 and "No internet access?" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(out.iterdir()) == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "stationdata", "data", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow  # end to end in subprocesses: `make test` runs it, `make test-quick` does not
def test_download_killed_halfway_resumes(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    stem = sorted(served)[0]
    path = f"{stem.rsplit('-', 1)[1]}/{stem}.gz"
    out = tmp_path / "d"
    with IsdServer(root) as server:
        env = {**os.environ, "NCEI_BASE_URL": server.base_url, "DATA_SOURCE": "ncei", "DATA_FALLBACK": "false",
               "DATA_TIMEOUT_SECONDS": "20"}
        server.stall[path] = 1
        proc = _cli("--data-dir", str(out), "--stations", stem, "--no-progress", env=env)
        try:
            assert server.half_sent.wait(20), "the download never started"
            deadline = time.monotonic() + 10
            while not [p for p in out.glob(".*.part") if p.stat().st_size > 0] and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(10)
        assert not (out / f"{stem}.gz").exists(), "a partial file took the final name"
        assert leftovers(out), "the kill left no .part (was it not halfway?)"
        again = _cli("--data-dir", str(out), "--stations", stem, "--no-progress", env=env)
        stdout, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stderr
    assert "1 fetched" in stdout
    assert (out / f"{stem}.gz").read_bytes() == served[stem] and leftovers(out) == []


def test_data_cli_selection_downloads_the_selected_station_years(tmp_path: Path,
                                                                 tree: tuple[Path, dict[str, bytes]]) -> None:
    root, served = tree
    if "030910-99999-2022" not in served:
        require("REQUIRE_DATA", f"DATA_DIR {isd_data_dir()} has .gz files but not the lab's 030910-99999-2022.gz")
    catalogue = REPO / "tests" / "data" / "isd-history-excerpt.csv"
    with IsdServer(root) as server:
        env = {**os.environ, "NCEI_BASE_URL": server.base_url, "DATA_SOURCE": "ncei", "DATA_FALLBACK": "false"}
        proc = _cli("--data-dir", str(tmp_path / "d"), "--catalogue", str(catalogue), "--icao", "EGPD,EKSP,KORD",
                    "--year", "2022", "--no-progress", env=env)
        stdout, stderr = proc.communicate(timeout=60)
        check = _cli("--data-dir", str(tmp_path / "d"), "--stations", "030910-99999,061100-99999", "--year",
                     "2022", "--check", env=env)
        check_out, _ = check.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "3 stations selected for 2022" in stderr
    assert "2 fetched" in stdout and "1 missing at the source" in stdout  # O'Hare 2022 is not on this mirror
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["030910-99999-2022.gz", "061100-99999-2022.gz"]
    assert check.returncode == 0 and "holds 2 station-years given" in check_out


def test_data_cli_usage_errors(tmp_path: Path) -> None:
    proc = _cli("--data-dir", str(tmp_path), "--country", "FR", env=dict(os.environ))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "add --year" in err
    proc = _cli("--data-dir", str(tmp_path), "--stations", "725300-94846", env=dict(os.environ))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "give the year" in err


def test_progress_bar_shows_files_bytes_and_rate(tmp_path: Path, tree: tuple[Path, dict[str, bytes]],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root, served = tree
    with IsdServer(root) as server:
        downloader(tmp_path / "d", ncei(server.base_url)).run(sorted(served), progress=True)
    err = capsys.readouterr().err
    assert f"{len(served)}/{len(served)}" in err and "station-years" in err
    assert " MB, " in err and "MB/s" in err
