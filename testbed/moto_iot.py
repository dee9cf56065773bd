"""moto as the AWS IoT/S3/STS endpoint for tests and the registration benchmark.

`MotoEndpoint` runs moto's `ThreadedMotoServer` on a free loopback port, so the code under test talks HTTP to
it through `AWS_ENDPOINT_URL` exactly as it would to AWS.

Two corrections to moto (5.x), both applied in-process while the server runs:
- certificate ids: moto hashes the PEM text unless its `iot.use_valid_cert` option is on; AWS uses the
  SHA-256 of the DER certificate. We turn the option on (moto's `/moto-api/config` does not accept it).
- its CreateCertificateFromCsr ignores the CSR's public key and certifies a
freshly generated RSA-2048 key instead (so the returned certificate can never match the device's key, and
each call spends ~0.1 s of CPU). AWS signs the CSR's own key. `issue_from_csr` patches that one backend
method to do what AWS does: verify the CSR signature and certify its subject and public key. Everything else
(registry, attachments, deletion rules) is moto's own behaviour.

- thing attributes: AWS allows at most 3 attributes on a thing without a thing type (50 with one:
  https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html,
  https://docs.aws.amazon.com/general/latest/gr/iot-core.html); moto accepts any number. `create_thing` and
  `update_thing` are patched to refuse more with InvalidRequestException, as AWS does.

And speed-ups with no change in behaviour (each returns what moto's own code returns): the server lists
moto's ~170 package folders from disk on every request to route it (`moto.backends.list_of_moto_modules`) and
inspects the response class for its method names on every request; we compute both once. DescribeThing and
principal lookups scan every thing/certificate; we look them up by ARN first (falling back to moto's scan).
Together that takes a request from about 11 ms to under 4 ms of CPU, so 1,000 things fit in a test.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_CA_KEY = ec.generate_private_key(ec.SECP256R1())
_ISSUER = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Moto"),
                     x509.NameAttribute(NameOID.COMMON_NAME, "Moto IoT test issuer")])


def _create_certificate_from_csr(self, csr: str, set_as_active: bool):
    from moto.iot.exceptions import InvalidRequestException

    try:
        request = x509.load_pem_x509_csr(csr.encode())
    except ValueError as exc:
        raise InvalidRequestException("The certificate signing request is not valid") from exc
    if not request.is_signature_valid:
        raise InvalidRequestException("The certificate signing request signature does not verify")
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(_ISSUER)
            .public_key(request.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
            .sign(_CA_KEY, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return self.register_certificate(pem, ca_certificate_pem=None, set_as_active=set_as_active, status="INACTIVE")


MAX_ATTRIBUTES_WITHOUT_TYPE = 3  # https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html


def _attributes_of(attribute_payload) -> dict:
    return dict((attribute_payload or {}).get("attributes") or {})


def _limited_create_thing(original):
    def create_thing(self, thing_name, thing_type_name, attribute_payload, *args, **kwargs):
        from moto.iot.exceptions import InvalidRequestException

        if not thing_type_name and len(_attributes_of(attribute_payload)) > MAX_ATTRIBUTES_WITHOUT_TYPE:
            raise InvalidRequestException(
                f"Thing {thing_name} has no thing type: at most {MAX_ATTRIBUTES_WITHOUT_TYPE} attributes allowed")
        return original(self, thing_name, thing_type_name, attribute_payload, *args, **kwargs)

    return create_thing


def _fast_lookups():
    """Same results as moto's lookups, found by key instead of by scanning every thing/certificate."""
    from moto.iot.models import IoTBackend
    from moto.utilities.utils import get_partition

    scan_thing, scan_principal = IoTBackend.describe_thing, IoTBackend._get_principal

    def describe_thing(self, thing_name: str):
        arn = f"arn:{get_partition(self.region_name)}:iot:{self.region_name}:{self.account_id}:thing/{thing_name}"
        thing = self.things.get(arn)
        if thing is not None and thing.thing_name == thing_name:
            return thing
        return scan_thing(self, thing_name)

    def get_principal(self, principal_arn: str):
        if ":cert/" in principal_arn:
            cert = self.certificates.get(principal_arn.rsplit("/", 1)[-1])
            if cert is not None and cert.arn == principal_arn:
                return cert
        return scan_principal(self, principal_arn)

    return describe_thing, get_principal


@contextmanager
def aws_like_certificates() -> Iterator[None]:
    """Certificate ids, CSR signing and the attribute limit as AWS has them (see module docstring), and a faster
    server."""
    import moto.backends
    import moto.core.responses
    from moto.core.config import default_user_config
    from moto.core.utils import method_names_from_class
    from moto.iot.models import IoTBackend

    modules = tuple(moto.backends.list_of_moto_modules())
    describe_thing, get_principal = _fast_lookups()
    with mock.patch.object(IoTBackend, "create_certificate_from_csr", _create_certificate_from_csr), \
            mock.patch.object(IoTBackend, "create_thing", _limited_create_thing(IoTBackend.create_thing)), \
            mock.patch.dict(default_user_config, {"iot": {"use_valid_cert": True}}), \
            mock.patch.object(moto.backends, "list_of_moto_modules", lambda: modules), \
            mock.patch.object(moto.core.responses, "method_names_from_class",
                              functools.lru_cache(maxsize=None)(method_names_from_class)), \
            mock.patch.object(IoTBackend, "describe_thing", describe_thing), \
            mock.patch.object(IoTBackend, "_get_principal", get_principal):
        yield


class MotoEndpoint:
    """A ThreadedMotoServer on 127.0.0.1 with AWS-like certificate ids (SHA-256 of the DER certificate)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""
        self._patches = aws_like_certificates()

    def start(self) -> MotoEndpoint:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._patches.__enter__()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def _post(self, path: str, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()

    def reset(self) -> None:
        """Forget every resource (between tests)."""
        self._post("/moto-api/reset")

    def stop(self) -> None:
        self._server.stop()
        self._patches.__exit__(None, None, None)

    def env(self, region: str = "us-east-1") -> dict[str, str]:
        """Environment for code that reads the standard AWS variables."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing", "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


class MotoServerProcess(MotoEndpoint):
    """The same server in its own process (`python -m tests.support.moto_iot PORT`): client and server then
    run on separate cores instead of sharing one interpreter lock, which is what a 1,000-thing run needs."""

    def __init__(self) -> None:  # noqa: D107 - no ThreadedMotoServer in this process
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def start(self) -> MotoServerProcess:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        root = Path(__file__).resolve().parents[1]
        self._proc = subprocess.Popen([sys.executable, "-m", "tests.support.moto_iot", str(port)], cwd=root,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2):
                    return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server on port {port} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _serve(port: int) -> None:
    """Entry point of `MotoServerProcess`; exits on SIGTERM or when the process that started it is gone."""
    endpoint = MotoEndpoint()
    endpoint._server._port = port
    endpoint.start()
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
