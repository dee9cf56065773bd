"""Register a local fleet: CA (created once, kept), one identity per thing, the broker's files, the manifest.

The deployment (compose.env, shards, generated services) is not written here: `python -m deploy write` reads
the manifest this writes (`make register` runs both).

Idempotent: a second run with the same settings rewrites nothing (same bytes, same fingerprints).
`force=True` rotates every key and certificate except the CA's. `dry_run=True` writes nothing and reports
what would change.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fleetcore.files import PRIVATE_MODE, Writer, read_or_none
from fleetcore.identity import (ACL_FILE, BROKER_COMMON_NAME, BROKER_DIR, CA_DIR, CA_KEY_FILE, HEALTH_TOPIC,
                                LOCAL_ENDPOINT, METRICS_THING, SERVER_CERT_FILE, SERVER_KEY_FILE, SYS_TOPICS)
from fleetcore.manifest import (CA_FILE, CERTIFICATE_FILE, MONITOR_THING, PRIVATE_KEY_FILE, THINGS_DIR,
                                FleetManifest, Role, Thing, load_manifest, manifest_path)
from fleetcore.shard import SHARDS_DIR
from fleetcore.target import Target
from fleetcore.topic import DEFAULT_TOPIC, monitor_filter
from provisioning import local_ca
from provisioning.errors import FleetStateError
from stationdata.distinct import cycling_note, start_offsets
from stationdata.station_names import (catalogue_metadata, metadata_fields, render_station_names,
                                       station_names_path)
from stationdata.stations import StationFile, assign

REGISTER_THREADS = 8


@dataclass
class LocalFleetRequest:
    """What to register (from the CLI / FleetSettings)."""

    fleet_dir: Path
    data_dir: Path
    prefix: str = "weather-station"
    count: int = 5
    topic: str = DEFAULT_TOPIC
    hostnames: list[str] = field(default_factory=lambda: ["broker", "localhost", "127.0.0.1"])
    port: int = 8883
    force: bool = False
    dry_run: bool = False
    # (uid, gid) to give station identity folders when running as root, so that the non-root station
    # container (compose `user: FLEET_UID`) can read its 0600 key. None: leave ownership alone.
    owner: tuple[int, int] | None = None


@dataclass
class Outcome:
    manifest: FleetManifest
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    cycling: str | None = None  # the plain note when stations share ISD files


def thing_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


def _load_or_create_ca(fleet_dir: Path, w: Writer) -> local_ca.Authority:
    cert_path, key_path = fleet_dir / CA_DIR / CA_FILE, fleet_dir / CA_DIR / CA_KEY_FILE
    cert_pem, key_pem = read_or_none(cert_path), read_or_none(key_path)
    if cert_pem and key_pem:
        ca = local_ca.Authority(key=local_ca.load_key(key_pem), cert=local_ca.load_cert(cert_pem))
        if ca.cert.public_key().public_numbers() != ca.key.public_key().public_numbers():
            raise FleetStateError(f"{cert_path} does not match {key_path}: run `make clean` then `make register`")
        return ca
    if cert_pem or key_pem:
        raise FleetStateError(f"half a CA in {fleet_dir / CA_DIR} (one of {CA_FILE}, {CA_KEY_FILE} missing): "
                                f"run `make clean` then `make register`")
    ca = local_ca.create_authority()
    w.write(key_path, local_ca.key_pem(ca.key), PRIVATE_MODE)
    w.write(cert_path, local_ca.cert_pem(ca.cert))
    return ca


def _ensure_identity(ca: local_ca.Authority, folder: Path, cert_name: str, key_name: str, common_name: str,
                     w: Writer, *, force: bool, server_names: list[str] | None = None) -> str:
    """Keep a valid key+certificate in `folder`, or issue a new pair; returns the certificate fingerprint."""
    cert_pem, key_pem = read_or_none(folder / cert_name), read_or_none(folder / key_name)
    if cert_pem and key_pem and not force:
        try:
            key, cert = local_ca.load_key(key_pem), local_ca.load_cert(cert_pem)
        except ValueError:
            key, cert = None, None
        if key is not None and cert is not None and local_ca.certificate_matches(
                ca, cert, key, common_name, server_names):
            w.write(folder / key_name, key_pem, PRIVATE_MODE)  # fixes the mode if someone loosened it
            return local_ca.fingerprint(cert)
    key = local_ca.new_key()
    cert = local_ca.issue(ca, common_name, key, server_names=server_names)
    w.write(folder / key_name, local_ca.key_pem(key), PRIVATE_MODE)
    w.write(folder / cert_name, local_ca.cert_pem(cert))
    return local_ca.fingerprint(cert)


def render_acl(stations: list[str], topic: str, monitor: str = MONITOR_THING, metrics: str = METRICS_THING) -> str:
    """Mosquitto ACL: each station may publish to `topic` only; the monitor may only read `topic` and what is
    below it (`fleetcore.topic.monitor_filter`), so the lake writer and `make watch` follow TOPIC; the metrics
    identity (`pipeline broker-metrics`) may only read the broker's `$SYS/#`."""
    lines = ["# Generated by `python -m provisioning register` (make register). Do not edit: it is rewritten.",
             "# Clients are identified by their certificate CN (the broker's fleet_identity plugin). Anything not",
             "# granted here is denied; there is no anonymous access.", ""]
    for name in stations:
        lines += [f"user {name}", f"topic write {topic}", ""]
    lines += [f"user {monitor}", f"topic read {monitor_filter(topic)}", ""]
    lines += [f"user {metrics}", f"topic read {SYS_TOPICS}", ""]
    lines += ["# The broker's own healthcheck (compose) connects with the server certificate.",
              f"user {BROKER_COMMON_NAME}", f"topic read {HEALTH_TOPIC}", ""]
    return "\n".join(lines)


def register_local(req: LocalFleetRequest) -> Outcome:
    fleet_dir = Path(req.fleet_dir)
    w = Writer(req.dry_run)
    previous: FleetManifest | None = None
    if manifest_path(fleet_dir).is_file():
        previous = load_manifest(fleet_dir)
        if previous.target != Target.LOCAL:
            raise FleetStateError(
                f"{manifest_path(fleet_dir)} describes an AWS fleet: run `python -m provisioning unregister "
                f"--target aws` first, or set FLEET_DIR to another folder")

    files = assign(req.count, req.data_dir)
    ca = _load_or_create_ca(fleet_dir, w)
    ca_pem = local_ca.cert_pem(ca.cert)

    broker = fleet_dir / BROKER_DIR
    _ensure_identity(ca, broker, SERVER_CERT_FILE, SERVER_KEY_FILE, BROKER_COMMON_NAME, w,
                     force=req.force, server_names=req.hostnames)
    w.write(broker / CA_FILE, ca_pem)

    meta = catalogue_metadata(req.data_dir)

    # Identities are independent: made by a few threads (file creation dominates, and it waits on the
    # filesystem, not on the GIL; keys and signatures are released by `cryptography` too). Order is kept.
    def one(item: tuple[str, StationFile, int]) -> Thing:
        name, sf, offset = item
        thing = _thing_identity(ca, ca_pem, fleet_dir, name, w, req.force,
                                role=Role.STATION, station_id=sf.station_id, isd_file=sf.path.name,
                                **metadata_fields(meta, sf.station_id))
        thing.start_offset = offset
        return thing

    pairs = list(zip(thing_names(req.prefix, req.count), files, start_offsets(files), strict=True))
    if len(pairs) < 50:
        things: list[Thing] = [one(p) for p in pairs]
    else:
        with ThreadPoolExecutor(max_workers=REGISTER_THREADS, thread_name_prefix="register") as pool:
            things = list(pool.map(one, pairs))
    things.append(_thing_identity(ca, ca_pem, fleet_dir, MONITOR_THING, w, req.force, role=Role.MONITOR))
    things.append(_thing_identity(ca, ca_pem, fleet_dir, METRICS_THING, w, req.force, role=Role.METRICS))

    station_names = [t.thing_name for t in things if t.role == Role.STATION]
    w.write(broker / ACL_FILE, render_acl(station_names, req.topic).encode())

    manifest = FleetManifest(target=Target.LOCAL, endpoint=LOCAL_ENDPOINT, port=req.port, topic=req.topic,
                             prefix=req.prefix, things=things)
    w.write(manifest_path(fleet_dir), (manifest.model_dump_json(indent=2) + "\n").encode())
    w.write(station_names_path(fleet_dir), render_station_names(things).encode())

    if req.owner is not None and not req.dry_run:
        hand_over_station_identities(fleet_dir, manifest, *req.owner)

    if previous is not None:
        wanted = {t.thing_name for t in things}
        for old in previous.things:
            if old.thing_name not in wanted:
                w.remove_tree(fleet_dir / old.identity_dir)
    return Outcome(manifest=manifest, written=w.written, removed=w.removed, cycling=cycling_note(files))


def _thing_identity(ca: local_ca.Authority, ca_pem: bytes, fleet_dir: Path, name: str, w: Writer, force: bool,
                    **fields: str | None) -> Thing:
    rel = f"{THINGS_DIR}/{name}"
    folder = fleet_dir / rel
    fp = _ensure_identity(ca, folder, CERTIFICATE_FILE, PRIVATE_KEY_FILE, name, w, force=force)
    w.write(folder / CA_FILE, ca_pem)
    return Thing(thing_name=name, identity_dir=rel, certificate_sha256=fp, **fields)


def hand_over_station_identities(fleet_dir: Path, manifest: FleetManifest, uid: int, gid: int) -> None:
    """As root, give each station's identity folder, and the monitor's (the compose lake writer runs as its
    owner), to uid:gid, the non-root user those containers run as (compose `user: FLEET_UID:FLEET_GID`), so they
    can read their 0600 key; root on the host (`make watch`, `make lake`) still reads them. Does nothing when not
    root."""
    if os.geteuid() != 0:
        return
    for t in [*manifest.stations(), *(t for t in manifest.things if t.role in (Role.MONITOR, Role.METRICS))]:
        folder = Path(fleet_dir) / t.identity_dir
        if folder.is_dir():
            _chown_tree(folder, uid, gid)


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    for p in [folder, *folder.iterdir()]:
        st = p.stat()
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.chown(p, uid, gid)


def unregister_local(fleet_dir: Path, *, remove_ca: bool = False, dry_run: bool = False) -> list[Path]:
    """Delete the fleet's identities (and the shards' hard links to their keys), broker files and manifest (and
    the CA with `remove_ca`). The deployment's other files go with `python -m deploy remove` (make unregister)."""
    fleet_dir = Path(fleet_dir)
    if manifest_path(fleet_dir).is_file():
        m = load_manifest(fleet_dir)
        if m.target != Target.LOCAL:
            raise FleetStateError(f"{manifest_path(fleet_dir)} describes an AWS fleet: use `--target aws`")
    w = Writer(dry_run)
    w.remove_tree(fleet_dir / THINGS_DIR)
    w.remove_tree(fleet_dir / SHARDS_DIR)
    w.remove_tree(fleet_dir / BROKER_DIR)
    if remove_ca:
        w.remove_tree(fleet_dir / CA_DIR)
    for f in (manifest_path(fleet_dir), station_names_path(fleet_dir)):
        w.remove_file(f)
    return w.removed
