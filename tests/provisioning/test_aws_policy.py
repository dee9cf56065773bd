"""The least-privilege policy document and the Amazon root CA."""

from __future__ import annotations

import json

from cryptography import x509

from provisioning.aws.policy import policy_document, policy_json
from provisioning.aws.rootca import amazon_root_ca_pem


def test_policy_is_exactly_least_privilege() -> None:
    assert policy_document("eu-west-1", "111122223333", ["sensor/weather"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": "arn:aws:iot:eu-west-1:111122223333:client/${iot:Connection.Thing.ThingName}",
             "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": ["arn:aws:iot:eu-west-1:111122223333:topic/sensor/weather"]},
        ],
    }


def test_connect_binds_the_client_id_to_the_certificates_own_thing() -> None:
    """Issue 10 on AWS: a certificate connects only as the thing it is attached to, so no takeover, and the
    rules' clientid() is the authenticated thing (what the lake stores as `publisher`)."""
    [connect] = [s for s in policy_document("eu-west-1", "111122223333", ["sensor/weather"])["Statement"]
                 if s["Action"] == "iot:Connect"]
    assert connect["Resource"].endswith(":client/${iot:Connection.Thing.ThingName}")
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_policy_never_grants_wildcards() -> None:
    for topics in (["sensor/weather"], ["hello/world"], ["sensor/weather", "hello/world"]):
        doc = policy_document("us-east-1", "111122223333", topics)
        for st in doc["Statement"]:
            assert st["Effect"] == "Allow"
            assert st["Action"] in ("iot:Connect", "iot:Publish")
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            assert all("*" not in r for r in resources)
        assert json.loads(policy_json(doc)) == doc


def test_policy_partition_follows_region() -> None:
    doc = policy_document("cn-north-1", "111122223333", ["t"])
    assert doc["Statement"][1]["Resource"] == ["arn:aws-cn:iot:cn-north-1:111122223333:topic/t"]


def test_root_ca_is_amazon_root_ca_1() -> None:
    cert = x509.load_pem_x509_certificate(amazon_root_ca_pem().encode())
    assert cert.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"
    assert cert.issuer == cert.subject  # a root
    assert cert.public_key().key_size == 2048
