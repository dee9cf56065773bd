"""Direct registration: one thing at a time through the IoT API, many at once in a bounded thread pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from tqdm import tqdm

from provisioning.aws.assign import PlannedThing
from provisioning.aws.fleet import FleetContext, RegistrationError, thing_attributes
from provisioning.aws.identity import (
    certificate_matches_key, certificate_sha256, csr_pem, identity_files, key_pem, load_private_key,
    new_private_key, write_private, write_public,
)
from provisioning.aws.rootca import amazon_root_ca_pem
from provisioning.aws.settings import CertificateMode
from fleetcore.manifest import THINGS_DIR, AwsResource, Role, Thing


def _for_thing(ctx: FleetContext, kind: str, thing: str, **extra: str) -> AwsResource | None:
    """The latest recorded resource of `kind` for `thing` (matching `extra`), or None."""
    found = None
    for r in ctx.ledger.for_thing(kind, thing):
        if all(r.extra.get(k) == v for k, v in extra.items()):
            found = r
    return found


def is_complete(ctx: FleetContext, planned: PlannedThing) -> bool:
    """Already registered by an earlier run: in the manifest, with its three identity files present."""
    if ctx.ledger.thing(planned.thing_name) is None:
        return False
    folder = ctx.fleet_dir / THINGS_DIR / planned.thing_name
    return all(p.is_file() for p in identity_files(folder))


def policy_for(ctx: FleetContext, planned: PlannedThing) -> str:
    return ctx.hello_policy_name if planned.role == Role.HELLO and ctx.hello_policy_name else ctx.policy_name


def register_thing(ctx: FleetContext, planned: PlannedThing) -> Thing:
    """Create what is missing for one thing (thing, certificate, attachments), recording each as it appears."""
    iot, ledger, name = ctx.clients.iot, ctx.ledger, planned.thing_name
    folder = ctx.fleet_dir / THINGS_DIR / name
    cert_path, key_path, ca_path = identity_files(folder)

    if not ledger.find("thing", name):
        kwargs = {"thingName": name,
                  "attributePayload": {"attributes": thing_attributes(
                      ctx.prefix, planned, typed=bool(ctx.settings.thing_type)), "merge": False}}
        if ctx.settings.thing_type:
            kwargs["thingTypeName"] = ctx.settings.thing_type
        resp = iot.create_thing(**kwargs)
        ledger.add(AwsResource(kind="thing", name=name, arn=resp["thingArn"], extra={"thing": name}))
        ctx.count("thing")
    thing_arn = ledger.find("thing", name).arn
    if ctx.settings.thing_group:
        iot.add_thing_to_thing_group(thingGroupName=ctx.settings.thing_group, thingName=name)

    cert = _for_thing(ctx, "certificate", name)
    if cert is None or not (cert_path.is_file() and key_path.is_file()):
        if ctx.settings.certificate_mode == CertificateMode.CSR:
            key = load_private_key(key_path) if key_path.is_file() else None
            if key is None:
                key = new_private_key()
                write_private(key_path, key_pem(key))
            resp = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem(key, name), setAsActive=True)
        else:
            resp = iot.create_keys_and_certificate(setAsActive=True)
        cert = ledger.add(AwsResource(kind="certificate", name=resp["certificateId"], arn=resp["certificateArn"],
                                      extra={"thing": name}))
        ctx.count("certificate")
        if ctx.settings.certificate_mode == CertificateMode.AWS_KEYS:
            write_private(key_path, resp["keyPair"]["PrivateKey"].encode())
            key = load_private_key(key_path)
        if not certificate_matches_key(resp["certificatePem"], key):
            raise RegistrationError(f"{name}: certificate {resp['certificateId']} does not certify the key in "
                                    f"{key_path}; run `make unregister TARGET=aws` and register again")
        write_public(cert_path, resp["certificatePem"])
    cert_pem = cert_path.read_text()

    policy = policy_for(ctx, planned)
    if _for_thing(ctx, "policy_attachment", name, target=cert.arn) is None:
        iot.attach_policy(policyName=policy, target=cert.arn)
        ledger.add(AwsResource(kind="policy_attachment", name=policy, extra={"thing": name, "target": cert.arn}))
    if _for_thing(ctx, "principal_attachment", name, principal=cert.arn) is None:
        iot.attach_thing_principal(thingName=name, principal=cert.arn)
        ledger.add(AwsResource(kind="principal_attachment", name=name,
                               extra={"thing": name, "principal": cert.arn}))

    write_public(ca_path, amazon_root_ca_pem())
    thing = Thing(thing_name=name, role=planned.role, station_id=planned.station_id, isd_file=planned.isd_file,
                  identity_dir=f"{THINGS_DIR}/{name}", certificate_sha256=certificate_sha256(cert_pem),
                  certificate_id=cert.name, certificate_arn=cert.arn, thing_arn=thing_arn, **planned.metadata())
    ledger.put_thing(thing)
    return thing


def run_pool(items: list, work: Callable, concurrency: int, desc: str) -> None:
    """Run `work(item)` for every item with at most `concurrency` in flight and a progress bar.

    The first failure stops new submissions; calls already in flight finish (and are recorded) before the
    error is raised, so the ledger never misses a resource that exists.
    """
    if not items:
        return
    stop = threading.Event()

    def guarded(item):
        if stop.is_set():
            return None
        return work(item)

    with tqdm(total=len(items), desc=desc, unit="thing", disable=None) as bar, \
            ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: set = set()
        try:
            for item in items:
                pending.add(pool.submit(guarded, item))
                if len(pending) >= concurrency * 4:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    bar.update(len(done))
                    failed = [f for f in done if f.exception() is not None]
                    if failed:
                        raise failed[0].exception()
            done, pending = wait(pending)
            bar.update(len(done))
            failed = [f for f in done if f.exception() is not None]
            if failed:
                raise failed[0].exception()
        except BaseException:  # a failure or Ctrl-C: start nothing new, let calls in flight finish and record
            stop.set()
            wait(pending)
            raise


def register_direct(ctx: FleetContext, planned: list[PlannedThing]) -> list[PlannedThing]:
    """Register every planned thing not already complete; returns the ones worked on."""
    todo = [p for p in planned if not is_complete(ctx, p)]
    run_pool(todo, lambda p: register_thing(ctx, p), ctx.settings.concurrency, "register")
    return todo
