"""End to end on a real Mosquitto (mutual TLS): stations publish real ISD records, the lake writer (a real
`python -m pipeline lake` process, killed with SIGKILL and restarted, then stopped and restarted gracefully)
writes the lake; then the lake, the DuckDB aggregates and the cold-readings table are checked against the
published set and against the raw ISD lines read independently here (fixed positions of the mandatory section).
"""

from __future__ import annotations

import gzip
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.cold import ColdTable
from pipeline.query import open_warehouse, run_named
from pipeline.settings import PipelineSettings
from station.build import build_message, encode_message
from isd_decoder import read_isd
from tests.conftest import require
from tests.support.publisher import publish_all
from tests.pipeline.test_local_lake import keys, read_lake

pytestmark = [pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
STATION_FILES = ("713060-99999-2022.gz", "723123-14886-2022.gz", "061100-99999-2022.gz")
RECORDS_PER_STATION = 240
PHASES = 4


@dataclass
class Published:
    """What the test published: payloads per (thing, seq), and the ISD line each seq came from."""

    keys: Counter = field(default_factory=Counter)
    lines: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # key -> (file, line number)


def raw_line(path: Path, number: int, cache: dict) -> str:
    if path not in cache:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="latin-1") as fh:
            cache[path] = fh.read().splitlines()
    return cache[path][number - 1]


def independent_reading(line: str) -> tuple[str, str, float | None]:
    """(USAF-WBAN, ISO time, air temperature °C or None) straight from the fixed-width mandatory section."""
    station = f"{line[4:10]}-{line[10:15]}"
    moment = datetime.strptime(line[15:27], "%Y%m%d%H%M").replace(tzinfo=timezone.utc)
    raw = line[87:92]
    return station, moment.isoformat(), None if raw == "+9999" else int(raw) / 10


class LakeProcess:
    """`python -m pipeline lake` as a child process with its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.proc = env, log, None

    def start(self, **extra_env: str) -> None:
        before = self.log.read_text().count("subscribed to") if self.log.exists() else 0
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "lake"], cwd=REPO_ROOT,
                                     env={**self.env, **extra_env},
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        deadline = time.monotonic() + 30
        while self.log.read_text().count("subscribed to") <= before:
            assert self.proc.poll() is None, f"lake writer exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"lake writer did not subscribe:\n{self.log.read_text()}"
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def ledger_count(lake_dir: Path) -> int:
    path = lake_dir / ".state" / "ledger.sqlite3"
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM seen").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def run(tls_broker, station_years_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Publish in phases around a crash and a restart of the lake writer; return what happened."""
    work = tmp_path_factory.mktemp("pipeline-e2e")
    lake_dir = work / "lake"
    monitor = tls_broker.identity("monitor")
    env = {**os.environ, "MQTT_HOST": tls_broker.host, "MQTT_PORT": str(tls_broker.port),
           "MONITOR_IDENTITY_DIR": str(monitor.directory), "LAKE_DIR": str(lake_dir),
           "LAKE_BUFFER_BYTES": "60000", "LAKE_BUFFER_SECONDS": "0.5",
           "LAKE_CLIENT_ID": f"monitor-lake-{uuid.uuid4().hex[:8]}", "TOPIC": "sensor/weather"}
    published = Published()
    batches: dict[str, list[list[bytes]]] = {}
    sent_at = datetime.now(timezone.utc)
    for index, name in enumerate(STATION_FILES):
        path = station_years_dir / name
        thing = f"weather-station-{index + 1}"
        payloads = []
        with read_isd(path) as reader:
            for seq, record in enumerate(reader):
                if seq == RECORDS_PER_STATION:
                    break
                payloads.append(encode_message(build_message(record, thing_name=thing, seq=seq, sent_at=sent_at)))
                published.keys[(thing, seq)] += 1
                published.lines[(thing, seq)] = (name, record.line_number)
        size = len(payloads) // PHASES + 1
        batches[thing] = [payloads[i:i + size] for i in range(0, len(payloads), size)]
    identities = {thing: tls_broker.identity(thing) for thing in batches}

    def publish(phase: int, repeat_from: int | None = None) -> None:
        for thing, parts in batches.items():
            payloads = list(parts[phase])
            if repeat_from is not None:  # a station resending what it already sent (e.g. after its own restart)
                payloads = parts[repeat_from][-10:] + payloads
            publish_all(tls_broker.host, tls_broker.port, identities[thing], payloads)

    lake = LakeProcess(env, work / "lake.log")
    # First run: buffer far longer than the phase, so at the crash everything received is still unwritten.
    lake.start(LAKE_BUFFER_SECONDS="600", LAKE_BUFFER_BYTES=str(10**9))
    publish(0)
    time.sleep(1.0)                  # delivered to the writer, in its buffer, not acknowledged
    assert not (lake_dir / "sensor").exists(), "nothing may be flushed before the crash in this scenario"
    lake.kill()                      # crash: whatever was buffered is the broker's again (never acknowledged)
    publish(1)                       # published while the writer is down: queued in its persistent session
    lake.start()
    publish(2, repeat_from=1)        # with duplicates of messages already in the lake
    assert lake.stop() == 0          # graceful: flushes and acknowledges
    lake.start()
    publish(3, repeat_from=0)
    expected = len(published.keys)
    deadline = time.monotonic() + 60
    while ledger_count(lake_dir) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # let any (wrong) extra record arrive before judging
    assert lake.stop() == 0
    log = (work / "lake.log").read_text()
    assert log.count("connected (session resumed)") == 2, log[-3000:]  # after the crash and after the stop
    dropped = [int(line.split(" received, ")[1].split()[0]) for line in log.splitlines() if "duplicates dropped" in line]
    assert sum(dropped) >= 2 * 10 * len(batches), f"the resent messages must be seen and dropped: {dropped}"
    return published, lake_dir, work


def test_lake_holds_exactly_the_published_set(run) -> None:
    published, lake_dir, work = run
    in_lake = keys(read_lake(lake_dir))  # also fails on any file that is not gzip NDJSON of objects
    duplicates = {k: n for k, n in in_lake.items() if n > 1}
    assert not duplicates, f"duplicated in the lake: {sorted(duplicates)[:10]}"
    missing = set(published.keys) - set(in_lake)
    extra = set(in_lake) - set(published.keys)
    assert not missing and not extra, (f"missing {sorted(missing)[:10]} ({len(missing)}), extra {sorted(extra)[:10]}"
                                       f"\n{(work / 'lake.log').read_text()[-3000:]}")
    assert ledger_count(lake_dir) == len(published.keys)


def test_every_file_is_complete_and_in_an_hour_partition(run) -> None:
    _, lake_dir, _ = run
    root = lake_dir / "sensor" / "weather"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".gz" for p in files), "no temporary or partial file under the prefix"
    for path in files:
        yyyy, mm, dd, hh = path.parent.relative_to(root).parts
        assert (len(yyyy), len(mm), len(dd), len(hh)) == (4, 2, 2, 2)
        with gzip.open(path, "rb") as fh:
            assert fh.read().endswith(b"\n")
    assert list((lake_dir / ".state" / "tmp").iterdir()) == []


def test_duckdb_aggregates_match_the_isd_records(run, station_years_dir: Path) -> None:
    published, lake_dir, work = run
    settings = PipelineSettings(LAKE_DIR=lake_dir, WAREHOUSE_DB=work / "warehouse.duckdb")
    cache: dict = {}
    by_station: dict[str, list[float]] = {}
    for file_name, number in published.lines.values():
        station, _, temperature = independent_reading(raw_line(station_years_dir / file_name, number, cache))
        by_station.setdefault(station, [])
        if temperature is not None:
            by_station[station].append(temperature)
    con = open_warehouse(settings)
    try:
        result = run_named(con, settings, "temperature_by_station")
    finally:
        con.close()
    assert result.columns == ["weather_station", "readings", "avg_temperature", "min_temperature", "max_temperature"]
    got = {row[0]: row[1:] for row in result.rows}
    assert set(got) == set(by_station)
    for station, temps in by_station.items():
        readings, avg, low, high = got[station]
        assert readings == len(temps)
        assert (low, high) == (min(temps), max(temps))
        assert avg == pytest.approx(statistics.fmean(temps), abs=1e-9)


def test_cold_table_holds_exactly_the_readings_below_minus_five(run, station_years_dir: Path) -> None:
    published, lake_dir, _ = run
    cache: dict = {}
    cold: dict[tuple[str, str], set[float]] = {}
    for file_name, number in published.lines.values():
        station, moment, temperature = independent_reading(raw_line(station_years_dir / file_name, number, cache))
        if temperature is not None and temperature < -5:
            cold.setdefault((station, moment), set()).add(temperature)
    assert cold, "the chosen station-years must include readings below -5 °C"
    table = ColdTable(lake_dir / "cold_readings.sqlite3")
    items = table.items()
    table.close()
    got = {(i["weather_station"], i["time"]): i["air_temperature_value"] for i in items}
    assert set(got) == set(cold)
    for key, value in got.items():
        assert value in cold[key]  # several ISD reports may share a (station, time) key: the last put wins
    assert all(set(i) == {"weather_station", "latitude", "longitude", "elevation", "time", "air_temperature_value",
                          "air_temperature_quality", "wind_speed_value", "weather_condition", "sky_cover_condition"}
               for i in items)


def test_dashboard_from_the_real_lake_draws_every_chart(run, tmp_path: Path) -> None:
    from pipeline.dashboard import CHARTS, write_dashboard
    from tests.pipeline.test_local_dashboard import Figures, chromium

    published, lake_dir, work = run
    settings = PipelineSettings(LAKE_DIR=lake_dir, WAREHOUSE_DB=work / "warehouse-dash.duckdb")
    path = write_dashboard(settings, tmp_path / "dashboard.html")
    binary = chromium()
    if binary is None:
        require("REQUIRE_CHROMIUM", "no chromium on PATH (apt-get install -y chromium)")
    proc = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Figures()
    dom.feed(proc.stdout)
    assert {k: f.get("data-status") for k, f in dom.figures.items()} == {key: "drawn" for key, _, _ in CHARTS}
    stations = len({thing for thing, _ in published.keys})
    assert int(dom.figures["map"]["data-drawn"]) == stations
    assert int(dom.figures["temperature"]["data-drawn"]) == stations
    assert int(dom.figures["latency"]["data-drawn"]) == 2 * stations
