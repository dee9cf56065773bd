"""The Amazon root CA that AWS IoT Core's ATS endpoint chains to, taken from certifi's Mozilla bundle.

certifi ships the Mozilla CA store, which includes "Amazon Root CA 1" (the RSA 2048 root the ATS endpoint
serves by default). We pick it out by subject and check its SHA-256 fingerprint against the value Amazon
publishes, so a changed or missing bundle entry is an error rather than a wrong `ca.pem`.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from functools import lru_cache

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from provisioning.errors import ProvisioningError

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)
AMAZON_ROOT_CA_1_SUBJECT = {"C": "US", "O": "Amazon", "CN": "Amazon Root CA 1"}
# SHA-256 of the DER certificate, as published at https://www.amazontrust.com/repository/
AMAZON_ROOT_CA_1_SHA256 = "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"


def _subject(cert: x509.Certificate) -> dict[str, str]:
    names = {NameOID.COUNTRY_NAME: "C", NameOID.ORGANIZATION_NAME: "O", NameOID.COMMON_NAME: "CN"}
    return {names[a.oid]: a.value for a in cert.subject if a.oid in names}


@lru_cache(maxsize=1)
def amazon_root_ca_pem() -> str:
    """PEM of Amazon Root CA 1 from certifi; ProvisioningError naming the bundle when it is not there."""
    bundle = certifi.where()
    with open(bundle, "rb") as fh:
        blocks = _PEM_BLOCK.findall(fh.read())
    for block in blocks:
        with warnings.catch_warnings():  # some unrelated roots in the bundle trip cryptography's strictness
            warnings.simplefilter("ignore")
            try:
                cert = x509.load_pem_x509_certificate(block)
            except ValueError:
                continue
        if _subject(cert) == AMAZON_ROOT_CA_1_SUBJECT:
            der = cert.public_bytes(serialization.Encoding.DER)
            if hashlib.sha256(der).hexdigest() != AMAZON_ROOT_CA_1_SHA256:
                raise ProvisioningError(f"{bundle}: 'Amazon Root CA 1' has an unexpected fingerprint; "
                                   "reinstall certifi (`make venv`)")
            return cert.public_bytes(serialization.Encoding.PEM).decode()
    raise ProvisioningError(f"{bundle}: no 'Amazon Root CA 1' in certifi's bundle; upgrade certifi (`make venv`)")
