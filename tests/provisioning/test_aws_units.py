"""Settings, station assignment, the ledger's journal and the cost estimate."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import pytest

from provisioning.aws import commands
from provisioning.aws.assign import planned_things, station_id_of
from provisioning.aws.cost import estimate
from provisioning.aws.ledger import Ledger, journal_path, load_state
from provisioning.aws.settings import AwsSettings
from provisioning.errors import ConfigError
from fleetcore.manifest import AwsResource, FleetManifest, load_manifest
from tests.provisioning.aws_fixtures import args
from tests.support.isd_lines import isd_line


def test_settings_read_the_standard_aws_variables(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_PROFILE", "lab")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("IOT_CONCURRENCY", "4")
    monkeypatch.setenv("PRICE_PER_MILLION_MESSAGES", "0.7")
    monkeypatch.setenv("TOPIC", "lab/weather")
    s = AwsSettings()
    assert (s.region, s.profile, s.endpoint_url, s.concurrency, s.price_per_million_messages, s.topic) == \
        ("eu-west-3", "lab", "http://127.0.0.1:5000", 4, 0.7, "lab/weather")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")  # AWS_REGION wins, as in botocore
    assert AwsSettings().region == "eu-north-1"
    monkeypatch.setenv("IOT_REGISTRATION_MODE", "sideways")
    with pytest.raises(ValueError, match="IOT_REGISTRATION_MODE"):
        AwsSettings()


def test_planned_things_cycle_through_station_files(tmp_path: Path) -> None:
    for name in ("725300-94846-1983", "062800-99999-2022.gz", "SOURCES.md"):
        (tmp_path / name).write_text("")
    planned = planned_things(3, "ws", tmp_path)  # the local fleet's order: the lab's stations first
    assert [(p.thing_name, p.station_id, p.isd_file) for p in planned] == [
        ("ws-1", "062800-99999", "062800-99999-2022.gz"),
        ("ws-2", "725300-94846", "725300-94846-1983"),
        ("ws-3", "062800-99999", "062800-99999-2022.gz")]
    assert planned_things(1000, "ws", None)[-1].thing_name == "ws-1000"
    assert planned_things(2, "ws", tmp_path / "absent")[0].isd_file is None
    assert station_id_of("A51255-00451-2022.gz") == "A51255-00451"
    with pytest.raises(ConfigError, match="count"):
        planned_things(0, "ws", None)


def test_journal_keeps_what_a_killed_run_created(tmp_path: Path) -> None:
    manifest = FleetManifest(target="aws", endpoint="e", prefix="ws", things=[])
    ledger = Ledger(tmp_path, manifest, save_interval=3600)  # no periodic save: as if killed before it
    ledger.add(AwsResource(kind="thing", name="ws-001", extra={"thing": "ws-001"}))
    ledger.add(AwsResource(kind="certificate", name="abc", arn="arn:cert/abc", extra={"thing": "ws-001"}))
    assert load_manifest(tmp_path).aws_resources == []  # the manifest alone lags behind ...
    state = load_state(tmp_path)  # ... the journal does not
    assert [(r.kind, r.name) for r in state.aws_resources] == [("thing", "ws-001"), ("certificate", "abc")]
    with open(journal_path(tmp_path), "a") as fh:
        fh.write('{"op": "add", "resou')  # torn last line of a killed process
    assert len(load_state(tmp_path).aws_resources) == 2
    ledger.save()
    assert not journal_path(tmp_path).exists() and len(load_manifest(tmp_path).aws_resources) == 2


def _isd(path: Path, stamps: list[tuple[str, str]], junk: int = 0, gzipped: bool | None = None) -> None:
    """Valid ISD lines at `stamps` (and `junk` damaged ones), gzipped when the name ends in .gz or `gzipped`."""
    text = "".join(isd_line(date=d, time=t) + "\n" for d, t in stamps) + "garbage\n" * junk
    zipped = path.name.endswith(".gz") if gzipped is None else gzipped
    path.write_bytes(gzip.compress(text.encode()) if zipped else text.encode())


def test_cost_estimate(tmp_path: Path) -> None:
    _isd(tmp_path / "030910-99999-2022.gz", [("20220101", "0000"), ("20220101", "1200"), ("20220102", "0000")],
         junk=2)
    _isd(tmp_path / "725300-94846-1983", [("19830101", "0000"), ("19830101", "0600")])
    est = estimate(["030910-99999-2022.gz", "725300-94846-1983", "030910-99999-2022.gz"], tmp_path, speed=3600,
                   price_per_million=2.0, price_per_million_minutes=1.0)
    assert est.messages == 3 + 2 + 3
    assert est.data_span == timedelta(days=1)
    assert est.duration == timedelta(seconds=24)
    assert est.messaging_cost == pytest.approx(8 / 1e6 * 2.0)
    assert est.connection_minutes == pytest.approx((24 + 6 + 24) / 60)  # each station until its file ends
    # MAX_RATE bounds the speed: 8 messages at 1 per second take at least 2 s for a 3-message station
    slow = estimate(["030910-99999-2022.gz"], tmp_path, speed=1e9, max_rate=1.0, price_per_million=1,
                    price_per_million_minutes=1)
    assert slow.duration == timedelta(seconds=2)
    fixed = estimate(["030910-99999-2022.gz"], tmp_path, speed=1, interval=10, price_per_million=1,
                     price_per_million_minutes=1)
    assert fixed.duration == timedelta(seconds=20)
    missing = estimate(["nope-00000-2000.gz"], tmp_path, speed=1, price_per_million=1, price_per_million_minutes=1)
    assert missing.messages == 0 and missing.missing_files == ("nope-00000-2000.gz",)


def test_cost_counts_what_the_station_replays(tmp_path: Path) -> None:
    """Regression: cost.py parsed ISD times itself (dropping hour-2400 records) and chose gzip by file name.
    It now counts with the station's decoder: a gzip file without .gz and a record at 24:00 both count."""
    _isd(tmp_path / "030910-99999-2022", [("20220101", "0000"), ("20220101", "2400")], gzipped=True)
    est = estimate(["030910-99999-2022"], tmp_path, speed=3600, price_per_million=1, price_per_million_minutes=1)
    assert est.messages == 2
    assert est.data_span == timedelta(days=1)  # 24:00 is the next day's 00:00


def test_max_rate_zero_means_no_cap_for_cost_as_for_the_station(tmp_path: Path, monkeypatch, capsys) -> None:
    """Regression: AwsSettings rejected MAX_RATE=0 (the station's "no cap"), so `make cost` failed with the
    station's .env."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAX_RATE", "0")
    assert AwsSettings().max_rate == 0
    monkeypatch.delenv("MAX_RATE")
    assert AwsSettings().max_rate == 100  # unset: AWS IoT Core's limit, as the station on aws
    data = tmp_path / "isd"
    data.mkdir()
    _isd(data / "030910-99999-2022.gz", [("20220101", "0000"), ("20220101", "0001"), ("20220101", "0002")])
    monkeypatch.setenv("MAX_RATE", "0")
    monkeypatch.setenv("INTERVAL", "0")
    assert commands.cost(args("cost", "--count", "1", "--data-dir", str(data), "--fleet-dir",
                              str(tmp_path / "f"))) == 0
    assert "duration:          00:00:00 at INTERVAL=0s" in capsys.readouterr().out
    monkeypatch.setenv("MAX_RATE", "1")
    assert commands.cost(args("cost", "--count", "1", "--data-dir", str(data), "--fleet-dir",
                              str(tmp_path / "f"))) == 0
    assert "duration:          00:00:02 at INTERVAL=0s" in capsys.readouterr().out


def test_cost_command_prints_messages_duration_and_price(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRICE_PER_MILLION_MESSAGES", "1.25")
    data = tmp_path / "isd"
    data.mkdir()
    _isd(data / "030910-99999-2022.gz", [("20220101", "0000"), ("20220101", "0100")])
    rc = commands.cost(args("cost", "--count", "4", "--data-dir", str(data), "--fleet-dir", str(tmp_path / "f"),
                            "--speed", "60"))
    assert rc == 0
    out = capsys.readouterr().out
    assert "messages:          8" in out
    assert "00:01:00 at SPEEDUP=60x" in out
    assert "PRICE_PER_MILLION_MESSAGES=$1.25" in out and "$0.0000" in out


def test_invalid_fleet_variable_exits_2_instead_of_falling_back(tmp_path: Path, monkeypatch, capsys) -> None:
    """Regression: `python -m provisioning.aws` warned about a bad FLEET_* value and went on with the defaults
    (FLEET_COUNT=5 ...), where `python -m provisioning` exits 2. Both exit 2 now, naming the variable."""
    from provisioning.aws.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLEET_COUNT", "many")
    assert main(["cost", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "FLEET_COUNT" in err[0] and "many" in err[0]


def test_invalid_aws_variable_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    from provisioning.aws.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IOT_CONCURRENCY", "0")
    monkeypatch.setenv("MAX_RATE", "-1")
    assert main(["plan", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert sorted(line.split("=")[0] for line in err) == ["provisioning.aws: invalid IOT_CONCURRENCY",
                                                         "provisioning.aws: invalid MAX_RATE"]
