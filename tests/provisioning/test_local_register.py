"""Local registration: the CA, identities, broker files and manifest; idempotence, rotation, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning import cli, local_ca
from provisioning.errors import FleetStateError
from stationdata import errors as data_errors
from fleetcore.manifest import FleetManifest, load_manifest, save_manifest
from provisioning.register_local import LocalFleetRequest, register_local, render_acl, unregister_local
from stationdata.stations import LAB_STATION_FILES
from tests.support.standins import stand_in_lab_files


@pytest.fixture()
def isd_dir(tmp_path: Path) -> Path:
    """Tiny stand-ins named like the lab's files (registration only looks at names)."""
    folder = stand_in_lab_files(tmp_path / "isd")
    (folder / "SOURCES.md").write_text("not an ISD file\n")
    return folder


def request(tmp_path: Path, isd_dir: Path, **kw: object) -> LocalFleetRequest:
    return LocalFleetRequest(fleet_dir=tmp_path / "fleet", data_dir=isd_dir, **kw)  # type: ignore[arg-type]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under `folder`: bytes, mode, mtime (ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_register_twice_changes_nothing(tmp_path: Path, isd_dir: Path) -> None:
    first = register_local(request(tmp_path, isd_dir))
    before = snapshot(tmp_path / "fleet")
    second = register_local(request(tmp_path, isd_dir))
    assert first.written and not second.written and not second.removed
    assert snapshot(tmp_path / "fleet") == before
    assert [t.certificate_sha256 for t in first.manifest.things] == \
           [t.certificate_sha256 for t in second.manifest.things]


def test_layout_keys_and_manifest(tmp_path: Path, isd_dir: Path) -> None:
    out = register_local(request(tmp_path, isd_dir))
    fleet = tmp_path / "fleet"
    m = load_manifest(fleet)
    assert m == out.manifest and m.target == "local" and m.endpoint == "broker"
    names = [t.thing_name for t in m.stations()]
    assert names == [f"weather-station-{i}" for i in range(1, 6)]
    assert [t.isd_file for t in m.stations()] == [f"{s}.gz" for s in LAB_STATION_FILES]
    assert [t.station_id for t in m.stations()][4] == "723123-14886"
    assert m.thing("monitor").role == "monitor"
    ca = cert(fleet / "ca" / "ca.pem")
    for t in m.things:
        folder = fleet / t.identity_dir
        c = cert(folder / "certificate.pem")
        assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == t.thing_name
        c.verify_directly_issued_by(ca)
        assert hashlib.sha256(c.public_bytes(local_ca.serialization.Encoding.DER)).hexdigest() == \
               t.certificate_sha256
        assert (folder / "ca.pem").read_bytes() == (fleet / "ca" / "ca.pem").read_bytes()
        key = local_ca.load_key((folder / "private.key").read_bytes())
        assert key.curve.name == "secp256r1"
        assert stat.S_IMODE((folder / "private.key").stat().st_mode) == 0o600
    for secret in (fleet / "ca" / "ca.key", fleet / "broker" / "server.key"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_server_certificate_covers_the_broker_names(tmp_path: Path, isd_dir: Path) -> None:
    register_local(request(tmp_path, isd_dir, hostnames=["broker", "localhost", "127.0.0.1", "mqtt.lan"]))
    c = cert(tmp_path / "fleet" / "broker" / "server.pem")
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"broker", "localhost", "mqtt.lan"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_changed_hostnames_reissue_only_the_server_certificate(tmp_path: Path, isd_dir: Path) -> None:
    register_local(request(tmp_path, isd_dir))
    before = snapshot(tmp_path / "fleet")
    out = register_local(request(tmp_path, isd_dir, hostnames=["broker", "localhost", "127.0.0.1", "extra"]))
    changed = {str(p.relative_to(tmp_path / "fleet")) for p in out.written}
    assert changed == {"broker/server.pem", "broker/server.key"}
    after = snapshot(tmp_path / "fleet")
    assert {k for k in before if before[k][0] != after[k][0]} == changed


def test_force_rotates_identities_but_keeps_the_ca(tmp_path: Path, isd_dir: Path) -> None:
    first = register_local(request(tmp_path, isd_dir))
    ca_before = (tmp_path / "fleet" / "ca" / "ca.pem").read_bytes()
    second = register_local(request(tmp_path, isd_dir, force=True))
    assert (tmp_path / "fleet" / "ca" / "ca.pem").read_bytes() == ca_before
    old = {t.thing_name: t.certificate_sha256 for t in first.manifest.things}
    new = {t.thing_name: t.certificate_sha256 for t in second.manifest.things}
    assert old.keys() == new.keys() and all(old[k] != new[k] for k in old)


def test_loosened_key_mode_is_repaired(tmp_path: Path, isd_dir: Path) -> None:
    register_local(request(tmp_path, isd_dir))
    key = tmp_path / "fleet" / "things" / "weather-station-2" / "private.key"
    content = key.read_bytes()
    key.chmod(0o644)
    register_local(request(tmp_path, isd_dir))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() == content


def test_count_and_prefix(tmp_path: Path, isd_dir: Path) -> None:
    out = register_local(request(tmp_path, isd_dir, count=7, prefix="lab"))
    names = [t.thing_name for t in out.manifest.stations()]
    assert names == [f"lab-{i}" for i in range(1, 8)]
    # 7 things over 5 files: the assignment cycles, deterministically.
    assert [t.isd_file for t in out.manifest.stations()][5:] == [f"{s}.gz" for s in LAB_STATION_FILES[:2]]
    acl = (tmp_path / "fleet" / "broker" / "acl").read_text()
    assert "user lab-7\ntopic write sensor/weather" in acl
    # Shrinking removes the identities that left the fleet, and the ACL no longer names them.
    out = register_local(request(tmp_path, isd_dir, count=3, prefix="lab"))
    assert {p.name for p in out.removed} == {"lab-4", "lab-5", "lab-6", "lab-7"}
    assert not (tmp_path / "fleet" / "things" / "lab-4").exists()
    assert "lab-4" not in (tmp_path / "fleet" / "broker" / "acl").read_text()


def test_acl_grants_only_what_each_identity_needs() -> None:
    acl = render_acl(["s-1", "s-2"], "sensor/weather")
    blocks = [b.strip().splitlines() for b in acl.split("\n\n") if b.strip() and not b.startswith("#")]
    assert ["user s-1", "topic write sensor/weather"] in blocks
    assert ["user s-2", "topic write sensor/weather"] in blocks
    assert ["user monitor", "topic read sensor/weather/#"] in blocks
    assert "readwrite" not in acl and "pattern" not in acl and "topic write #" not in acl


def test_acl_lets_the_monitor_read_a_non_default_topic(tmp_path: Path, isd_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the monitor's ACL was fixed to sensor/#, so TOPIC=other/topic starved the lake writer."""
    monkeypatch.setenv("TOPIC", "other/topic")
    assert cli.main(["register", "--fleet-dir", str(tmp_path / "fleet"), "--data-dir", str(isd_dir)]) == 0
    acl = (tmp_path / "fleet" / "broker" / "acl").read_text()
    blocks = [b.strip().splitlines() for b in acl.split("\n\n") if b.strip() and not b.startswith("#")]
    assert ["user monitor", "topic read other/topic/#"] in blocks
    assert ["user weather-station-1", "topic write other/topic"] in blocks
    assert "sensor/" not in acl


def test_dry_run_writes_nothing(tmp_path: Path, isd_dir: Path) -> None:
    out = register_local(request(tmp_path, isd_dir, dry_run=True))
    assert out.written and not (tmp_path / "fleet").exists()


def test_missing_data_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(data_errors.ConfigError, match="DATA_DIR .*make data"):
        register_local(LocalFleetRequest(fleet_dir=tmp_path / "fleet", data_dir=tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data_errors.ConfigError, match="no ISD files"):
        register_local(LocalFleetRequest(fleet_dir=tmp_path / "fleet", data_dir=empty))
    assert not (tmp_path / "fleet").exists()


def test_refuses_to_overwrite_an_aws_fleet(tmp_path: Path, isd_dir: Path) -> None:
    fleet = tmp_path / "fleet"
    aws = FleetManifest(target="aws", endpoint="example-ats.iot.eu-west-1.amazonaws.com", prefix="weather-station",
                        things=[])
    save_manifest(fleet, aws)
    with pytest.raises(FleetStateError, match="AWS fleet"):
        register_local(request(tmp_path, isd_dir))
    assert json.loads((fleet / "manifest.json").read_text())["target"] == "aws"


def test_half_a_ca_is_refused(tmp_path: Path, isd_dir: Path) -> None:
    register_local(request(tmp_path, isd_dir))
    (tmp_path / "fleet" / "ca" / "ca.key").unlink()
    with pytest.raises(FleetStateError, match="half a CA"):
        register_local(request(tmp_path, isd_dir))


def test_unregister_removes_identities_and_keeps_the_ca(tmp_path: Path, isd_dir: Path) -> None:
    register_local(request(tmp_path, isd_dir))
    fleet = tmp_path / "fleet"
    ca = (fleet / "ca" / "ca.pem").read_bytes()
    unregister_local(fleet)
    assert not (fleet / "things").exists() and not (fleet / "manifest.json").exists()
    assert (fleet / "ca" / "ca.pem").read_bytes() == ca
    register_local(request(tmp_path, isd_dir))
    assert (fleet / "ca" / "ca.pem").read_bytes() == ca
    unregister_local(fleet, remove_ca=True)
    assert not (fleet / "ca").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand files to another user")
def test_as_root_station_identities_go_to_the_container_user(tmp_path: Path, isd_dir: Path) -> None:
    out = register_local(request(tmp_path, isd_dir, owner=(12345, 23456)))
    fleet = tmp_path / "fleet"
    for t in out.manifest.stations():
        for p in [fleet / t.identity_dir, *(fleet / t.identity_dir).iterdir()]:
            assert (p.stat().st_uid, p.stat().st_gid) == (12345, 23456), p
    # The monitor's too: the compose lake writer runs as its key's owner, never root (issue 10).
    monitor = fleet / "things" / "monitor"
    for p in [monitor, *monitor.iterdir()]:
        assert (p.stat().st_uid, p.stat().st_gid) == (12345, 23456), p
    # The CA and the broker's files stay with the user who registered.
    for p in [fleet / "ca" / "ca.key", fleet / "broker" / "server.key"]:
        assert p.stat().st_uid == 0, p
    # Ownership is not content: a second run changes nothing.
    assert not register_local(request(tmp_path, isd_dir, owner=(12345, 23456))).written
